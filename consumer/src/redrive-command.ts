import { Partitioners, type Message, type PartitionMetadata } from 'kafkajs';
import type pg from 'pg';
import { errorCatalogue } from '@catchall/core';
import type { EventDecoder } from '@catchall/schemas';
import {
  checkDeadLettersHeld,
  judge,
  selectDeadLetters,
  type DeadLetterReader,
  type DeadLetterTools,
  type Verdict,
} from './dead-letter-commands';
import type { DeadLetterView } from './dead-letter-view';
import { planRedrive, type RedriveDecision } from './dead-letter-report';
import type { Selection } from './dead-letter-selection';
import { liveReadModelVersion } from './read-model-version';
import { originStates } from './redrive-ledger';
import { coordinatesText, parseCoordinates, redriveMessage, redriveOrigin } from './redrive';

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
/** How long one send may wait for Kafka's acknowledgement before redrive gives up. */
const SEND_DEADLINE_MS = 60_000;

/** Kafka did not acknowledge a send of redriven records in time: run redrive again. */
export class RedriveSendTimeout extends Error {
  readonly code = errorCatalogue.notReady.code;
  readonly retriable = errorCatalogue.notReady.retriable;
}

/** `promise`, or a RedriveSendTimeout once `ms` have passed. */
async function withinDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new RedriveSendTimeout(
            `Kafka did not acknowledge redriven records within ${ms} ms; they may or may not be in the events topic: run redrive again (the projector counts each origin at most once)`,
          ),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends `messages` to the events topic in chunks of SEND_CHUNK, each acknowledged by all
 * in-sync replicas before the next; resolves to where each went (`<partition>:<offset>`, in
 * order). `onSent(where)` after each chunk's acknowledgement: where the records sent so far
 * went.
 */
async function produce(
  tools: DeadLetterTools,
  messages: Message[],
  onSent: (where: readonly string[]) => void,
): Promise<string[]> {
  const producer = tools.kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    // Unlimited, as kafkajs asks of an idempotent producer (it warns at every start
    // otherwise: a send given up on leaves its sequence numbers behind, and the next send
    // may be taken for a duplicate); SEND_DEADLINE_MS bounds the wait instead, and the
    // producer is dropped after a failed send.
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 5000 },
  });
  // Chosen here, so that each record's offset is known from its partition's base offset: one
  // send's records of a partition are contiguous.
  const partitions = await partitionsOf(tools, messages);
  const placed = messages.map((m, i) => ({ ...m, partition: partitions[i]! }));
  await producer.connect();
  const where: string[] = [];
  try {
    for (let i = 0; i < placed.length; i += SEND_CHUNK) {
      const chunk = placed.slice(i, i + SEND_CHUNK);
      const metadata = await withinDeadline(
        producer.send({ topic: tools.eventsTopic, acks: -1, messages: chunk }),
        SEND_DEADLINE_MS,
      );
      const next = new Map(metadata.map((m) => [m.partition, Number(m.baseOffset)]));
      for (const { partition } of chunk) {
        const offset = next.get(partition)!;
        next.set(partition, offset + 1);
        where.push(`${partition}:${offset}`);
      }
      onSent(where);
    }
  } finally {
    await producer.disconnect();
  }
  return where;
}

/**
 * Where each redriven record goes: its origin's partition when the origin (its
 * `redrive-origin` header, `<topic>:<partition>:<offset>`) is in the events topic, so that
 * the projector has judged the origin when it reads the copy (redrive-ledger.ts); otherwise
 * the partition kafkajs's default partitioner (murmur2 of the key, as Java clients and the
 * ingest API) picks, or one of its choosing for a record without a key.
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
  const exists = new Set(partitionMetadata.map((p) => p.partitionId));
  return messages.map((message) => {
    const text = redriveOrigin({ headers: message.headers });
    const origin = text === undefined ? undefined : parseCoordinates(text);
    return origin?.topic === tools.eventsTopic && exists.has(origin.partition)
      ? origin.partition
      : partitioner({ topic: tools.eventsTopic, partitionMetadata, message });
  });
}

/**
 * The lines of a redrive plan, each handed to `onLine` (and kept in `lines`) in plan order as
 * soon as it is known: a skipped or refused dead letter's, and with `dryRun` a sent one's, at
 * once; a sent one's once Kafka acknowledged it, with where it went. `sent(where)`: where the
 * plan's sends acknowledged so far went, in plan order (`<partition>:<offset>`); each call
 * hands the lines it makes known. So a run killed half-way has printed what went out, and
 * the lines read as they did when printed at the end.
 */
export function createRedriveLines(
  plan: readonly RedriveDecision[],
  verdicts: ReadonlyMap<DeadLetterView, Verdict>,
  dryRun: boolean,
  onLine: (line: RedriveLine) => void = () => undefined,
) {
  const lines: RedriveLine[] = [];
  let sends = 0;
  const lineOf = (d: RedriveDecision, to: string | undefined): RedriveLine => {
    const base = {
      deadLetter: `${d.view.partition}:${d.view.offset}`,
      reason: d.view.reason,
      origin: d.origin ?? null,
    };
    if (d.action === 'refused') {
      return { ...base, action: 'refused', code: errorCatalogue.redriveRefused.code, why: d.why };
    }
    if (d.action === 'skipped') return { ...base, action: 'skipped', why: d.why };
    const line: RedriveLine = {
      ...base,
      action: dryRun ? 'would-redrive' : 'redriven',
      redriveCount: d.redriveCount + 1,
      now: verdicts.get(d.view)!.outcome,
    };
    if (to !== undefined) line.to = to;
    return line;
  };
  return {
    lines,
    sent(where: readonly string[]): void {
      while (lines.length < plan.length) {
        const d = plan[lines.length]!;
        let to: string | undefined;
        if (d.action === 'send' && !dryRun) {
          to = where[sends];
          // Not acknowledged yet: this line and those after it wait.
          if (to === undefined) return;
          sends += 1;
        }
        const line = lineOf(d, to);
        lines.push(line);
        onLine(line);
      }
    },
  };
}

/**
 * The plan with the dead letters to send that the projector would dead-letter again now
 * (their verdict, judge: the cause is not fixed yet) refused instead: a copy of one would
 * only use up a redrive of its origin and write another dead letter. `verdicts`: of every
 * dead letter the plan sends.
 */
export function refuseStillFailing(
  plan: readonly RedriveDecision[],
  verdicts: ReadonlyMap<DeadLetterView, Verdict>,
): RedriveDecision[] {
  return plan.map((d): RedriveDecision => {
    const verdict = verdicts.get(d.view);
    if (d.action !== 'send' || verdict?.outcome !== 'dead-letters') return d;
    return {
      action: 'refused',
      view: d.view,
      origin: d.origin,
      why: `dead letter ${d.view.partition}:${d.view.offset} would be dead-lettered again now (${verdict.reason}: ${verdict.detail}): fix its cause first, or redrive it anyway with --even-if-failing`,
    };
  });
}

/**
 * The dead letters a redrive selection names (at most its limit per partition while read)
 * and the highest redrive count of every origin in the topic redriven before (an origin not
 * in the map was never redriven), from one read of the partition ends. A UsageError when a `PARTITION:OFFSET`
 * named holds no dead letter (exit 2, not "sent 0") or a partition named does not exist.
 */
export async function redriveSelection(
  tools: DeadLetterReader,
  selection: Selection,
): Promise<{ views: DeadLetterView[]; attempts: Map<string, number> }> {
  const attempts = new Map<string, number>();
  const { views, ends } = await selectDeadLetters(tools, selection, attempts);
  checkDeadLettersHeld(ends, selection.coordinates);
  return { views, attempts };
}

/**
 * `redrive`: writes the selected dead letters back to the events topic (planRedrive decides
 * which), keyed by their normalized domain, with the redrive headers (redriveMessage). The
 * live read-model version's ledger is read first, to skip origins it counted; the projector's
 * ledger makes a record counted at most once whatever this run does (README, "Dead-letter
 * tools"). `dryRun`: only says what would go. Every dead letter is decoded before anything
 * is sent, so that an unreachable registry fails the run before it writes. `onLine` gets each
 * line as soon as it is known (a sent one once Kafka acknowledged its chunk), so that a run
 * killed half-way has said what went out; the result holds them all.
 */
export async function redriveCommand(
  tools: DeadLetterTools,
  deps: { codec: EventDecoder; pool: pg.Pool },
  selection: Selection,
  options: {
    maxRedrives: number;
    dryRun: boolean;
    /** Each line once it is known, in plan order (createRedriveLines). */
    onLine?: (line: RedriveLine) => void;
    /** Sends dead letters the projector would dead-letter again now too (refused otherwise). */
    evenIfFailing?: boolean;
  },
): Promise<RedriveResult> {
  const { views, attempts } = await redriveSelection(tools, selection);
  // Each dead letter's own place and the origin it names: the ledger says which it is under.
  const origins = views.flatMap((v) => [
    ...(v.original ? [coordinatesText(v.original)] : []),
    ...(v.copyOf === undefined ? [] : [v.copyOf]),
  ]);
  const version = await liveReadModelVersion(deps.pool);
  const states = await originStates(deps.pool, version, origins);
  const planned = planRedrive(views, {
    maxRedrives: options.maxRedrives,
    states,
    attempts,
    eventsTopic: tools.eventsTopic,
  });
  const verdicts = new Map<DeadLetterView, Verdict>();
  for (const d of planned) {
    if (d.action === 'send') verdicts.set(d.view, await judge(deps.codec, d.view.value));
  }
  const plan = options.evenIfFailing ? planned : refuseStillFailing(planned, verdicts);
  const sending = plan.filter(
    (d): d is Extract<RedriveDecision, { action: 'send' }> => d.action === 'send',
  );
  const messages = sending.map((d) => {
    const verdict = verdicts.get(d.view)!;
    return redriveMessage({
      // The normalized domain, as every producer keys; a record that still fails keeps its key.
      key: verdict.outcome === 'counts' ? verdict.domain : d.view.key,
      value: d.view.value,
      headers: d.view.headers,
      origin: d.origin,
      redriveCount: d.redriveCount,
      from: { topic: tools.deadLetters.topic, partition: d.view.partition, offset: d.view.offset },
    });
  });
  const output = createRedriveLines(plan, verdicts, options.dryRun, options.onLine);
  // The lines that need no acknowledgement first, so that a run that fails sending says them.
  output.sent([]);
  if (!options.dryRun && messages.length > 0) {
    tools.progress.start('redriving', messages.length);
    try {
      const where = await produce(tools, messages, (sent) => {
        output.sent(sent);
        tools.progress.update(sent.length);
      });
      output.sent(where);
    } finally {
      tools.progress.stop();
    }
  }
  const count = (action: RedriveDecision['action']) =>
    plan.filter((d) => d.action === action).length;
  return {
    lines: output.lines,
    sent: options.dryRun ? 0 : sending.length,
    skipped: count('skipped'),
    refused: count('refused'),
  };
}
