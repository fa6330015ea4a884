import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { RunningKafka } from '../../scripts/src/infra/kafka';
import { testKafka, type ReadRecord } from './kafka';
import { waitFor } from './wait';

/**
 * A transaction open on a partition that its coordinator completed as a commit (same
 * producer id and epoch, state CompleteCommit): the coordinator skipped its marker there,
 * and aborting it drops committed records (see the README's runbook).
 */
export interface SkippedCommit {
  partition: number;
  startOffset: number;
  producerId: string;
  producerEpoch: string;
}

/** Runs Kafka's TransactionsCommand (KIP-664) against the broker; its standard output. */
async function transactionsTool(kafka: RunningKafka, args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(kafka.java, [
    '-cp',
    `${kafka.libs}/*`,
    'org.apache.kafka.tools.TransactionsCommand',
    '--bootstrap-server',
    kafka.brokers,
    ...args,
  ]);
  return stdout;
}

/** The rows of a table the tool printed, keyed by its header. */
function rowsOf(stdout: string): Record<string, string>[] {
  const [header = '', ...rows] = stdout.trim().split('\n');
  const names = header.trim().split(/\s+/);
  return rows.map((row) => {
    const cells = row.trim().split(/\s+/);
    return Object.fromEntries(names.map((name, i) => [name, cells[i] ?? '']));
  });
}

/**
 * The partitions whose last stable offset (what read_committed readers may read up to) is
 * below the high watermark: a transaction is open there.
 */
export async function partitionsWithOpenTransactions(kafka: RunningKafka, topic: string) {
  const client = testKafka(kafka.brokers);
  const committed = client.admin();
  const uncommitted = client.admin({ readUncommitted: true });
  await Promise.all([committed.connect(), uncommitted.connect()]);
  try {
    const [stable, high] = await Promise.all([
      committed.fetchTopicOffsets(topic),
      uncommitted.fetchTopicOffsets(topic),
    ]);
    return stable
      .map((s) => ({ partition: s.partition, stable: Number(s.high) }))
      .map((s) => ({ ...s, high: Number(high.find((h) => h.partition === s.partition)!.high) }))
      .filter((s) => s.stable < s.high);
  } finally {
    await Promise.all([committed.disconnect(), uncommitted.disconnect()]);
  }
}

/**
 * A broker killed in the middle of a transaction can leave it open on a partition after its
 * coordinator has completed it (a hanging transaction): read_committed readers then stop
 * there for good. The README's runbook, as done here: let the transactions in progress end
 * (the ingest API's timeout is 3 s; a restarted coordinator first writes the markers of
 * those it had decided), then abort only what `find-hanging` lists: it asks each open
 * transaction's coordinator, and leaves alone one whose coordinator still names the
 * partition (ongoing, or decided with its marker to come). Aborting a decided commit
 * would lose events answered 202. One more hazard: a broker restarted alone can complete a
 * commit without writing its marker on a partition whose leader it did not know yet (its
 * coordinator says CompleteCommit for the same producer id and epoch); `find-hanging` lists
 * it, and aborting it drops committed records. Those are returned apart, to be read
 * uncommitted. Returns the transactions aborted and, among them, those skipped commits.
 */
export async function abortHangingTransactions(kafka: RunningKafka, topic: string) {
  const allEnded = async () => (await partitionsWithOpenTransactions(kafka, topic)).length === 0;
  const ended = await waitFor('open transactions to end', allEnded, {
    timeoutMs: 30000,
    intervalMs: 1000,
  }).then(
    () => true,
    () => false,
  );
  if (ended) return { aborted: [], skippedCommits: [] };
  const aborted: SkippedCommit[] = [];
  const skippedCommits: SkippedCommit[] = [];
  const findHanging = ['find-hanging', '--topic', topic, '--max-transaction-timeout', '0'];
  await waitFor(
    'hanging transactions aborted, and the others ended by their coordinators',
    async () => {
      for (const row of rowsOf(await transactionsTool(kafka, findHanging))) {
        const open = {
          partition: Number(row.Partition),
          startOffset: Number(row.StartOffset),
          producerId: row.ProducerId!,
          producerEpoch: row.ProducerEpoch!,
        };
        // What its coordinator decided, if it still knows the producer.
        const listed = rowsOf(await transactionsTool(kafka, ['list'])).find(
          (t) => t.ProducerId === open.producerId,
        );
        if (listed) {
          const [described] = rowsOf(
            await transactionsTool(kafka, [
              'describe',
              '--transactional-id',
              listed.TransactionalId!,
            ]),
          );
          if (
            described?.TransactionState === 'CompleteCommit' &&
            described.ProducerEpoch === row.ProducerEpoch
          ) {
            skippedCommits.push(open);
          }
        }
        await transactionsTool(kafka, [
          ...['abort', '--topic', topic, '--partition', row.Partition!],
          ...['--start-offset', row.StartOffset!],
        ]);
        aborted.push(open);
      }
      return allEnded();
    },
    { timeoutMs: 90000, intervalMs: 2000 },
  ).catch(async (err: unknown) => {
    // What the partitions and the coordinators hold, for whoever reads the failure.
    const open = await partitionsWithOpenTransactions(kafka, topic);
    const producers = await Promise.all(
      open.map(({ partition }) =>
        transactionsTool(kafka, [
          'describe-producers',
          '--topic',
          topic,
          '--partition',
          String(partition),
        ]),
      ),
    );
    const coordinators = await transactionsTool(kafka, ['list']);
    throw new Error(
      `${(err as Error).message}: ${JSON.stringify(open)}\n${producers.join('\n')}\n${coordinators}`,
    );
  });
  return { aborted, skippedCommits };
}

/** True when a record read uncommitted belongs to one of `skippedCommits`. */
export function inSkippedCommit(record: ReadRecord, skippedCommits: SkippedCommit[]): boolean {
  // kafkajs keeps the record batch's header on each message it decodes.
  const context = (
    record.message as { batchContext?: { producerId?: unknown; producerEpoch?: unknown } }
  ).batchContext;
  return skippedCommits.some(
    (c) =>
      c.partition === record.partition &&
      Number(record.offset) >= c.startOffset &&
      String(context?.producerId) === c.producerId &&
      String(context?.producerEpoch) === c.producerEpoch,
  );
}
