import type { Kafka } from 'kafkajs';
import type { Logger } from '@catchall/core';
import { DecodeError, type DecodedDomainEvent, type EventDecoder } from '@catchall/schemas';
import { listEntry, viewDeadLetter, type DeadLetterView } from './dead-letter-view';
import { createSummaryCounter, type Summary } from './dead-letter-report';
import { checkPartitions, readRanges, selects, type Selection } from './dead-letter-selection';
import { classify, type DecodedRecord } from './record-decoder';
import { attemptsKey } from './redrive';
import type { TopicSource } from './topic-reader';
import { NotInTopic } from './usage-error';

/** A progress display: a bar on a terminal, log lines otherwise (see dlq-cli.ts). */
export interface Progress {
  start(what: string, total: number): void;
  update(done: number): void;
  stop(): void;
}

/** What the commands need: the clients, the topics, where output goes. */
export interface DeadLetterTools {
  /** The client redrive produces with. */
  kafka: Kafka;
  /** The dead-letter topic (`<EVENTS_TOPIC>.dlq`), read through its source. */
  deadLetters: TopicSource;
  /** The events topic redrives go to. */
  eventsTopic: string;
  logger: Logger;
  progress: Progress;
}

/** What reading the dead-letter topic needs of the tools. */
export type DeadLetterReader = Pick<DeadLetterTools, 'deadLetters' | 'progress'>;

/** The dead letters a selection named, and the partition ends they were read up to. */
export interface SelectedDeadLetters {
  views: DeadLetterView[];
  /** Each partition's `[low, high)` when the read started: what checkDeadLettersHeld takes. */
  ends: Map<number, [number, number]>;
}

/**
 * Reads the dead letters the selection names (its limit aside), up to the topic's end as it
 * is now (one read of the partition ends, returned), handing each to `onView` in topic order
 * per partition; partitions are read together, so their dead letters interleave. `onView`
 * answers `false` when it wants no more of that partition (OnRecord). With `attempts`, the
 * whole topic is read whatever `onView` answers, and `attempts` gets, per origin and value
 * redriven before (attemptsKey), the highest redrive count of its copies' dead letters
 * (origins never redriven are left out: 0 is the default; a `redrive-count` of a record that
 * is no copy is a producer's header and left out too). A UsageError when the selection
 * names a partition the topic does not have.
 */
export async function scanDeadLetters(
  tools: DeadLetterReader,
  selection: Selection,
  onView: (view: DeadLetterView) => boolean | void,
  attempts?: Map<string, number>,
): Promise<Map<number, [number, number]>> {
  const source = tools.deadLetters;
  const ends = await source.ends();
  checkPartitions(selection, ends, source.topic);
  const ranges = attempts
    ? readRanges({ reasons: [], coordinates: [] }, ends)
    : readRanges(selection, ends);
  const total = [...ranges.values()].reduce((n, [from, to]) => n + to - from, 0);
  tools.progress.start('reading dead letters', total);
  try {
    await source.read(
      ranges,
      (partition, message) => {
        const view = viewDeadLetter(partition, message);
        if (attempts && view.copyOf !== undefined && view.redriveCount > 0) {
          const key = attemptsKey(view.copyOf, view.digest);
          attempts.set(key, Math.max(attempts.get(key) ?? 0, view.redriveCount));
        }
        if (!selects(selection, view)) return true;
        const more = onView(view);
        return attempts !== undefined || more;
      },
      (read) => tools.progress.update(read),
    );
    // Done, also where the rest of a partition was not needed (a --limit reached).
    tools.progress.update(total);
  } finally {
    tools.progress.stop();
  }
  return ends;
}

/**
 * Keeps, per partition, the first `limit` things handed (all without a limit), and answers
 * `false` once a partition has them (scanDeadLetters then stops reading it). `inOrder()`:
 * partition after partition, ascending, at most `limit` in all: the first `limit` in topic
 * order, whatever order the partitions were read in. Memory: at most `limit` per partition.
 */
function firstPerPartition<T>(limit: number | undefined) {
  const byPartition = new Map<number, T[]>();
  return {
    keep(partition: number, item: T): boolean {
      const list = byPartition.get(partition) ?? [];
      if (limit !== undefined && list.length >= limit) return false;
      list.push(item);
      byPartition.set(partition, list);
      return limit === undefined || list.length < limit;
    },
    inOrder(): T[] {
      const all = [...byPartition.keys()].sort((a, b) => a - b).flatMap((p) => byPartition.get(p)!);
      return limit === undefined ? all : all.slice(0, limit);
    },
  };
}

/**
 * The dead letters the selection names, in topic order per partition (partitions one after
 * the other), at most `selection.limit`, read as scanDeadLetters reads them (`attempts`
 * included). At most `selection.limit` views per partition are held while reading (values
 * included: redrive sends them); without a limit, every one selected.
 */
export async function selectDeadLetters(
  tools: DeadLetterReader,
  selection: Selection,
  attempts?: Map<string, number>,
): Promise<SelectedDeadLetters> {
  const kept = firstPerPartition<DeadLetterView>(selection.limit);
  const ends = await scanDeadLetters(tools, selection, (v) => kept.keep(v.partition, v), attempts);
  return { views: kept.inOrder(), ends };
}

/** `summary`: counts of the selected dead letters, counted as they are read (none kept). */
export async function summaryCommand(
  tools: DeadLetterReader,
  selection: Selection,
): Promise<Summary> {
  const counter = createSummaryCounter();
  await scanDeadLetters(tools, selection, (v) => counter.add(v));
  return counter.result();
}

/** One line of `list`: a dead letter's coordinates, reasons, origin and headers. */
export type ListEntry = ReturnType<typeof listEntry>;

/**
 * `list`: the selected dead letters' coordinates, reasons, origins and headers, handed to
 * `emit`. With `selection.limit`: the first `limit` in topic order (partition, then offset),
 * emitted once read, holding at most `limit` entries per partition (no keys or values) and
 * reading no further in a partition once it has them. Without: each emitted as it is read
 * and none held, in offset order per partition, partitions interleaved. Resolves to how many
 * were emitted.
 */
export async function listCommand(
  tools: DeadLetterReader,
  selection: Selection,
  emit: (entry: ListEntry) => void,
): Promise<number> {
  let emitted = 0;
  if (selection.limit === undefined) {
    await scanDeadLetters(tools, selection, (v) => {
      emit(listEntry(v));
      emitted += 1;
    });
    return emitted;
  }
  const kept = firstPerPartition<ListEntry>(selection.limit);
  await scanDeadLetters(tools, selection, (v) => kept.keep(v.partition, listEntry(v)));
  for (const entry of kept.inOrder()) {
    emit(entry);
    emitted += 1;
  }
  return emitted;
}

/** What the projector would do with a record now: count it, ignore it, or dead-letter it. */
export type Verdict =
  | { outcome: 'counts'; domain: string; type: string; occurredAt: string; eventId?: string }
  | { outcome: 'ignored'; why: string }
  | { outcome: 'dead-letters'; reason: string; detail: string };

/** A value read as the projector reads it: the event as written, and the verdict on it. */
interface Reading {
  /** The event its writer schema reads it as; undefined when the value did not decode. */
  decoded: DecodedDomainEvent | undefined;
  verdict: Verdict;
}

function verdictOf(record: DecodedRecord): Verdict {
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
}

async function readValue(codec: EventDecoder, value: Buffer | null): Promise<Reading> {
  let decoded: DecodedDomainEvent;
  try {
    decoded = await codec.decode(value);
  } catch (err) {
    if (err instanceof DecodeError) {
      return {
        decoded: undefined,
        verdict: { outcome: 'dead-letters', reason: err.reason, detail: err.message },
      };
    }
    throw err;
  }
  return { decoded, verdict: verdictOf(classify(decoded)) };
}

/**
 * Decodes a value as the projector does (the project's decoder and the registry, then
 * classify), without waiting on an unknown schema id. Throws what the registry lookup throws
 * (unreachable: retriable); a DecodeError is a verdict, not a failure.
 */
export async function judge(codec: EventDecoder, value: Buffer | null): Promise<Verdict> {
  return (await readValue(codec, value)).verdict;
}

/**
 * The fields of a decoded event as its writer wrote them, before any rule of the projector
 * (the domain not normalized, the time not range-checked): what `show` prints so that an
 * operator sees why a record that decoded was refused.
 */
export interface DecodedEventView {
  /** The registry id of the writer schema (the Confluent wire header); null without one. */
  writerSchemaId: number | null;
  /** `''` when the writer has no id (see writer-projection.ts). */
  eventId: string;
  eventIdOrigin: string;
  /** As written: not trimmed, lower-cased or converted to punycode. */
  domain: string;
  /** `unknown` for a symbol the contract does not know (its enum default). */
  type: string;
  /** Epoch milliseconds, as read (a writer's micros or nanos converted), in range or not. */
  occurredAt: number;
  /** occurredAt as an ISO 8601 UTC text; null when it is outside what a Date can hold. */
  occurredAtUtc: string | null;
  source: string | null;
}

/** The shown view of a decoded event, with the schema id of the value's wire header. */
export function decodedEventView(
  decoded: DecodedDomainEvent,
  writerSchemaId: number | null,
): DecodedEventView {
  const at = new Date(decoded.occurredAt);
  return {
    writerSchemaId,
    eventId: decoded.eventId,
    eventIdOrigin: decoded.eventIdOrigin,
    domain: decoded.domain,
    type: String(decoded.type),
    occurredAt: decoded.occurredAt,
    occurredAtUtc: Number.isNaN(at.getTime()) ? null : at.toISOString(),
    source: decoded.source,
  };
}

/**
 * A NotInTopic (a UsageError) naming the first of `coordinates` outside what the dead-letter topic holds
 * (below its partition's first offset or at or past its end), given the partition ends the
 * selection was read up to (SelectedDeadLetters.ends, so that the answer speaks of the same
 * read): an operator's mistyped offset is not a selection that matches nothing.
 */
export function checkDeadLettersHeld(
  ends: ReadonlyMap<number, [number, number]>,
  coordinates: readonly { partition: number; offset: number }[],
): void {
  for (const at of coordinates) {
    const [low, high] = ends.get(at.partition) ?? [0, 0];
    if (at.offset < low || at.offset >= high) {
      throw new NotInTopic(
        `no dead letter at ${at.partition}:${at.offset}: partition ${at.partition} holds ${
          high > low ? `offsets ${low} to ${high - 1}` : 'none'
        }`,
      );
    }
  }
}

/**
 * `show <partition>:<offset>`: one dead letter in full: headers, key and value as hex and
 * base64, the Confluent wire header, the decoded event as written (DecodedEventView, null
 * when the value does not decode) and what the projector would do with it now. A
 * NotInTopic when no dead letter is there.
 */
export async function showCommand(
  tools: DeadLetterReader,
  codec: EventDecoder,
  at: { partition: number; offset: number },
) {
  const selection: Selection = { reasons: [], coordinates: [at] };
  const {
    views: [view],
    ends,
  } = await selectDeadLetters(tools, selection);
  if (!view) {
    checkDeadLettersHeld(ends, [at]);
    throw new NotInTopic(`no dead letter at ${at.partition}:${at.offset}`);
  }
  const bytes = (b: Buffer | null) =>
    b === null ? null : { length: b.length, hex: b.toString('hex'), base64: b.toString('base64') };
  const value = view.value;
  const wire =
    value !== null && value.length >= 5 && value[0] === 0
      ? { magicByte: 0, schemaId: value.readInt32BE(1) }
      : null;
  const reading = view.bodyKept ? await readValue(codec, value) : undefined;
  return {
    ...listEntry(view),
    key: view.key === null ? null : { text: view.key.toString('utf8'), ...bytes(view.key) },
    value: bytes(value),
    wireFormat: wire,
    decoded:
      reading?.decoded === undefined
        ? null
        : decodedEventView(reading.decoded, wire?.schemaId ?? null),
    now: reading
      ? reading.verdict
      : {
          outcome: 'not-kept',
          why: `the dead letter kept no key or value (${view.originalBytes} bytes); the original is in the events topic at ${listEntry(view).original}`,
        },
  };
}
