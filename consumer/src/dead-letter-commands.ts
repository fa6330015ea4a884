import type { Kafka } from 'kafkajs';
import type { Logger } from '@catchall/core';
import { DecodeError, type DecodedDomainEvent, type EventDecoder } from '@catchall/schemas';
import { listEntry, viewDeadLetter, type DeadLetterView } from './dead-letter-view';
import { summarize, type Summary } from './dead-letter-report';
import { checkPartitions, readRanges, selects, type Selection } from './dead-letter-selection';
import { classify, type DecodedRecord } from './record-decoder';
import type { TopicSource } from './topic-reader';
import { UsageError } from './usage-error';

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
 * The dead letters the selection names, in topic order per partition (partitions one after
 * the other), at most `selection.limit`, read up to the topic's end as it is now (one read
 * of the partition ends, returned with them). With `attempts`, the whole topic is read, and
 * it gets the highest redrive count of each origin. A UsageError when the selection names a
 * partition the topic does not have.
 */
export async function selectDeadLetters(
  tools: DeadLetterReader,
  selection: Selection,
  attempts?: Map<string, number>,
): Promise<SelectedDeadLetters> {
  const source = tools.deadLetters;
  const ends = await source.ends();
  checkPartitions(selection, ends, source.topic);
  const ranges = attempts
    ? readRanges({ reasons: [], coordinates: [] }, ends)
    : readRanges(selection, ends);
  const total = [...ranges.values()].reduce((n, [from, to]) => n + to - from, 0);
  const byPartition = new Map<number, DeadLetterView[]>();
  tools.progress.start('reading dead letters', total);
  try {
    await source.read(
      ranges,
      (partition, message) => {
        const view = viewDeadLetter(partition, message);
        if (attempts && view.origin !== undefined) {
          attempts.set(view.origin, Math.max(attempts.get(view.origin) ?? 0, view.redriveCount));
        }
        if (!selects(selection, view)) return;
        const list = byPartition.get(partition) ?? [];
        list.push(view);
        byPartition.set(partition, list);
      },
      (read) => tools.progress.update(read),
    );
  } finally {
    tools.progress.stop();
  }
  const views = [...byPartition.keys()].sort((a, b) => a - b).flatMap((p) => byPartition.get(p)!);
  return { views: selection.limit === undefined ? views : views.slice(0, selection.limit), ends };
}

/** `summary`: counts of the selected dead letters. */
export async function summaryCommand(
  tools: DeadLetterReader,
  selection: Selection,
): Promise<Summary> {
  return summarize((await selectDeadLetters(tools, selection)).views);
}

/** `list`: the selected dead letters' coordinates, reasons, origins and headers. */
export async function listCommand(tools: DeadLetterReader, selection: Selection) {
  return (await selectDeadLetters(tools, selection)).views.map(listEntry);
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
 * A UsageError naming the first of `coordinates` outside what the dead-letter topic holds
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
      throw new UsageError(
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
 * UsageError when no dead letter is there.
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
    throw new UsageError(`no dead letter at ${at.partition}:${at.offset}`);
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
