import { Partitioners, type Kafka, type Message, type PartitionMetadata } from 'kafkajs';
import type pg from 'pg';
import { errorCatalogue, type Logger } from '@catchall/core';
import { DecodeError, type EventDecoder } from '@catchall/schemas';
import { listEntry, viewDeadLetter, type DeadLetterView } from './dead-letter-view';
import { planRedrive, summarize, type RedriveDecision, type Summary } from './dead-letter-report';
import { readRanges, selects, type Selection } from './dead-letter-selection';
import { classify } from './record-decoder';
import { liveReadModelVersion } from './read-model-version';
import { originStates } from './redrive-ledger';
import { redriveMessage } from './redrive';
import { partitionEnds, readTopicRanges } from './topic-reader';
import { UsageError } from './usage-error';

/** A progress display: a bar on a terminal, log lines otherwise (see dlq-cli.ts). */
export interface Progress {
  start(what: string, total: number): void;
  update(done: number): void;
  stop(): void;
}

/** What the commands need: the clients, the topics, where output goes. */
export interface DeadLetterTools {
  kafka: Kafka;
  /** The dead-letter topic (`<EVENTS_TOPIC>.dlq`) and the events topic redrives go to. */
  deadLetterTopic: string;
  eventsTopic: string;
  logger: Logger;
  progress: Progress;
}

/**
 * The dead letters the selection names, in topic order per partition (partitions one after
 * the other), at most `selection.limit`, read up to the topic's end as it is now. With
 * `attempts`, the whole topic is read, and it gets the highest redrive count of each origin.
 */
export async function selectDeadLetters(
  tools: DeadLetterTools,
  selection: Selection,
  attempts?: Map<string, number>,
): Promise<DeadLetterView[]> {
  const ends = await partitionEnds(tools.kafka, tools.deadLetterTopic);
  const ranges = attempts
    ? readRanges({ reasons: [], coordinates: [] }, ends)
    : readRanges(selection, ends);
  const total = [...ranges.values()].reduce((n, [from, to]) => n + to - from, 0);
  const byPartition = new Map<number, DeadLetterView[]>();
  tools.progress.start('reading dead letters', total);
  try {
    await readTopicRanges({
      kafka: tools.kafka,
      topic: tools.deadLetterTopic,
      ranges,
      onRecord(partition, message) {
        const view = viewDeadLetter(partition, message);
        if (attempts && view.origin !== undefined) {
          attempts.set(view.origin, Math.max(attempts.get(view.origin) ?? 0, view.redriveCount));
        }
        if (!selects(selection, view)) return;
        const list = byPartition.get(partition) ?? [];
        list.push(view);
        byPartition.set(partition, list);
      },
      onProgress: (read) => tools.progress.update(read),
    });
  } finally {
    tools.progress.stop();
  }
  const views = [...byPartition.keys()].sort((a, b) => a - b).flatMap((p) => byPartition.get(p)!);
  return selection.limit === undefined ? views : views.slice(0, selection.limit);
}

/** `summary`: counts of the selected dead letters. */
export async function summaryCommand(
  tools: DeadLetterTools,
  selection: Selection,
): Promise<Summary> {
  return summarize(await selectDeadLetters(tools, selection));
}

/** `list`: the selected dead letters' coordinates, reasons, origins and headers. */
export async function listCommand(tools: DeadLetterTools, selection: Selection) {
  return (await selectDeadLetters(tools, selection)).map(listEntry);
}

/** What the projector would do with a record now: count it, ignore it, or dead-letter it. */
export type Verdict =
  | { outcome: 'counts'; domain: string; type: string; occurredAt: string; eventId?: string }
  | { outcome: 'ignored'; why: string }
  | { outcome: 'dead-letters'; reason: string; detail: string };

/**
 * Decodes a value as the projector does (the project's decoder and the registry, then
 * classify), without waiting on an unknown schema id. Throws what the registry lookup throws
 * (unreachable: retriable); a DecodeError is a verdict, not a failure.
 */
export async function judge(codec: EventDecoder, value: Buffer | null): Promise<Verdict> {
  try {
    const decoded = await codec.decode(value);
    const record = classify(decoded);
    if (record.kind === 'ignored') {
      return { outcome: 'ignored', why: 'an event type this reader does not know' };
    }
    if (record.kind === 'dead') {
      return { outcome: 'dead-letters', reason: record.reason, detail: record.detail };
    }
    const verdict: Verdict = {
      outcome: 'counts',
      domain: record.domain,
      type: record.event.type,
      occurredAt: new Date(record.event.occurredAt).toISOString(),
    };
    if (record.eventId !== undefined) verdict.eventId = record.eventId;
    return verdict;
  } catch (err) {
    if (err instanceof DecodeError) {
      return { outcome: 'dead-letters', reason: err.reason, detail: err.message };
    }
    throw err;
  }
}

/**
 * `show <partition>:<offset>`: one dead letter in full: headers, key and value as hex and
 * base64, the Confluent wire header, the decoded event and what the projector would do with
 * it now. A UsageError when no dead letter is there.
 */
export async function showCommand(
  tools: DeadLetterTools,
  codec: EventDecoder,
  at: { partition: number; offset: number },
) {
  const selection: Selection = { reasons: [], coordinates: [at] };
  const [view] = await selectDeadLetters(tools, selection);
  if (!view) {
    const ends = await partitionEnds(tools.kafka, tools.deadLetterTopic);
    const range = ends.get(at.partition);
    throw new UsageError(
      range === undefined
        ? `the dead-letter topic ${tools.deadLetterTopic} has no partition ${at.partition}`
        : `no dead letter at ${at.partition}:${at.offset}: partition ${at.partition} holds offsets ${range[0]} to ${range[1] - 1}`,
    );
  }
  const bytes = (b: Buffer | null) =>
    b === null ? null : { length: b.length, hex: b.toString('hex'), base64: b.toString('base64') };
  const value = view.value;
  const wire =
    value !== null && value.length >= 5 && value[0] === 0
      ? { magicByte: 0, schemaId: value.readInt32BE(1) }
      : null;
  return {
    ...listEntry(view),
    key: view.key === null ? null : { text: view.key.toString('utf8'), ...bytes(view.key) },
    value: bytes(value),
    wireFormat: wire,
    now: view.bodyKept
      ? await judge(codec, value)
      : {
          outcome: 'not-kept',
          why: `the dead letter kept no key or value (${view.originalBytes} bytes); the original is in the events topic at ${listEntry(view).original}`,
        },
  };
}

/** One line of redrive's output per selected dead letter. */
export interface RedriveLine {
  action: 'redriven' | 'would-redrive' | 'skipped' | 'refused';
  deadLetter: string;
  reason: string;
  origin: string | null;
  /** The redrive count the record carries once sent. */
  redriveCount?: number;
  /** Where it went in the events topic: `<partition>:<offset>`. */
  to?: string;
  /** What the projector would do with it now (see judge). */
  now?: Verdict['outcome'];
  code?: string;
  why?: string;
}

/** What redrive did. */
export interface RedriveResult {
  lines: RedriveLine[];
  sent: number;
  skipped: number;
  refused: number;
}

const SEND_CHUNK = 200;

async function produce(
  tools: DeadLetterTools,
  messages: Message[],
  onSent: (done: number) => void,
): Promise<string[]> {
  const producer = tools.kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5000 },
  });
  // Chosen here, as the producer would, so that each record's offset is known from its
  // partition's base offset: one send's records of a partition are contiguous.
  const partitions = await partitionsOf(tools, messages);
  const placed = messages.map((m, i) => ({ ...m, partition: partitions[i]! }));
  await producer.connect();
  const where: string[] = [];
  try {
    for (let i = 0; i < placed.length; i += SEND_CHUNK) {
      const chunk = placed.slice(i, i + SEND_CHUNK);
      const metadata = await producer.send({ topic: tools.eventsTopic, acks: -1, messages: chunk });
      const next = new Map(metadata.map((m) => [m.partition, Number(m.baseOffset)]));
      for (const { partition } of chunk) {
        const offset = next.get(partition)!;
        next.set(partition, offset + 1);
        where.push(`${partition}:${offset}`);
      }
      onSent(i + chunk.length);
    }
  } finally {
    await producer.disconnect();
  }
  return where;
}

/**
 * The partition kafkajs's default partitioner (murmur2 of the key, as Java clients and the
 * ingest API) picks for each record; a record without a key gets one of its choosing.
 */
async function partitionsOf(tools: DeadLetterTools, messages: Message[]): Promise<number[]> {
  const admin = tools.kafka.admin();
  await admin.connect();
  let partitionMetadata: PartitionMetadata[];
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [tools.eventsTopic] });
    partitionMetadata = topics[0]!.partitions;
  } finally {
    await admin.disconnect();
  }
  const partitioner = Partitioners.DefaultPartitioner();
  return messages.map((message) =>
    partitioner({ topic: tools.eventsTopic, partitionMetadata, message }),
  );
}

/**
 * `redrive`: writes the selected dead letters back to the events topic (planRedrive decides
 * which), keyed by their normalized domain, with the redrive headers (redriveMessage). The
 * live read-model version's ledger is read first, to skip origins it counted; the projector's
 * ledger makes a record counted at most once whatever this run does (README, "Dead-letter
 * tools"). `dryRun`: only says what would go. Every dead letter is decoded before anything
 * is sent, so that an unreachable registry fails the run before it writes.
 */
export async function redriveCommand(
  tools: DeadLetterTools,
  deps: { codec: EventDecoder; pool: pg.Pool },
  selection: Selection,
  options: { maxRedrives: number; dryRun: boolean },
): Promise<RedriveResult> {
  const attempts = new Map<string, number>();
  const views = await selectDeadLetters(tools, selection, attempts);
  const origins = [...new Set(views.flatMap((v) => (v.origin === undefined ? [] : [v.origin])))];
  const version = await liveReadModelVersion(deps.pool);
  const states = await originStates(deps.pool, version, origins);
  const plan = planRedrive(views, { maxRedrives: options.maxRedrives, states, attempts });
  const sending = plan.filter(
    (d): d is Extract<RedriveDecision, { action: 'send' }> => d.action === 'send',
  );
  const verdicts = new Map<DeadLetterView, Verdict>();
  for (const d of sending) verdicts.set(d.view, await judge(deps.codec, d.view.value));
  const messages = sending.map((d) => {
    const verdict = verdicts.get(d.view)!;
    return redriveMessage({
      // The normalized domain, as every producer keys; a record that still fails keeps its key.
      key: verdict.outcome === 'counts' ? verdict.domain : d.view.key,
      value: d.view.value,
      headers: d.view.headers,
      origin: d.origin,
      redriveCount: d.redriveCount,
      from: { topic: tools.deadLetterTopic, partition: d.view.partition, offset: d.view.offset },
    });
  });
  let where: string[] = [];
  if (!options.dryRun && messages.length > 0) {
    tools.progress.start('redriving', messages.length);
    try {
      where = await produce(tools, messages, (n) => tools.progress.update(n));
    } finally {
      tools.progress.stop();
    }
  }
  const sentAt = new Map(sending.map((d, i) => [d.view, where[i]]));
  const lines = plan.map((d): RedriveLine => {
    const base = {
      deadLetter: `${d.view.partition}:${d.view.offset}`,
      reason: d.view.reason,
      origin: d.view.origin ?? null,
    };
    if (d.action === 'refused') {
      return { ...base, action: 'refused', code: errorCatalogue.redriveRefused.code, why: d.why };
    }
    if (d.action === 'skipped') return { ...base, action: 'skipped', why: d.why };
    const line: RedriveLine = {
      ...base,
      action: options.dryRun ? 'would-redrive' : 'redriven',
      redriveCount: d.redriveCount + 1,
      now: verdicts.get(d.view)!.outcome,
    };
    const to = sentAt.get(d.view);
    if (to !== undefined) line.to = to;
    return line;
  });
  const count = (action: RedriveDecision['action']) =>
    plan.filter((d) => d.action === action).length;
  return {
    lines,
    sent: options.dryRun ? 0 : sending.length,
    skipped: count('skipped'),
    refused: count('refused'),
  };
}
