import { createHash } from 'node:crypto';
import type { DeadLetteredRecord } from './projection-store';
import type { IHeaders, KafkaMessage, Message } from 'kafkajs';

/**
 * Headers a redriven record carries (README, "Dead-letter tools"):
 * - `redrive-origin`: `<topic>:<partition>:<offset>` of the record first dead-lettered, kept
 *   when a redriven record is dead-lettered and redriven again: what the projector counts
 *   once per read-model version (the redrive ledger, redrive-ledger.ts);
 * - `redrive-count`: how many times it was redriven, 1 the first time;
 * - `redrive-from`: `<topic>:<partition>:<offset>` of the dead letter it was read from.
 */
export const REDRIVE_ORIGIN_HEADER = 'redrive-origin';
export const REDRIVE_COUNT_HEADER = 'redrive-count';
export const REDRIVE_FROM_HEADER = 'redrive-from';

/** The headers the projector adds to a dead letter (dead-letters.ts). */
export const DEAD_LETTER_HEADERS = [
  'dlq-reason',
  'dlq-detail',
  'dlq-original-topic',
  'dlq-original-partition',
  'dlq-original-offset',
  'dlq-original-timestamp',
  'dlq-original-bytes',
] as const;

/**
 * The SHA-256 (hex) of a record's value (of no bytes for a null value): what the redrive
 * ledger tells a copy from a record that only names an origin by, as redrive copies a value
 * byte for byte.
 */
export function valueDigest(value: Buffer | null | undefined): string {
  return createHash('sha256')
    .update(value ?? Buffer.alloc(0))
    .digest('hex');
}

/** Coordinates of a Kafka record. */
export interface Coordinates {
  topic: string;
  partition: number;
  offset: number;
}

/** `<topic>:<partition>:<offset>`: Kafka topic names hold no ':' (letters, digits, `._-`). */
export function coordinatesText(c: Coordinates): string {
  return `${c.topic}:${c.partition}:${c.offset}`;
}

/** The coordinates `coordinatesText` wrote, or undefined when `text` is not such. */
export function parseCoordinates(text: string): Coordinates | undefined {
  const match = /^([A-Za-z0-9._-]{1,249}):(\d{1,10}):(\d{1,19})$/.exec(text);
  if (!match) return undefined;
  const partition = Number(match[2]);
  const offset = Number(match[3]);
  if (!Number.isSafeInteger(offset) || partition > 2 ** 31 - 1) return undefined;
  return { topic: match[1]!, partition, offset };
}

/** A header's first value as text (kafkajs gives Buffers, strings or arrays of them). */
export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/**
 * The redrive origin a record carries (its `redrive-origin` header), in canonical text; undefined
 * for a record that was never redriven, or whose header is not coordinates (a direct producer
 * may write any header: such a record is counted as any other).
 */
export function redriveOrigin(message: Pick<KafkaMessage, 'headers'>): string | undefined {
  const text = headerText(message.headers, REDRIVE_ORIGIN_HEADER);
  if (text === undefined) return undefined;
  const parsed = parseCoordinates(text);
  return parsed && coordinatesText(parsed);
}

/**
 * The origin a record at `at` is a copy of: its `redrive-origin` (redriveOrigin) when that
 * names a record before it in its own topic and partition, which is where redrive writes
 * every copy (after its origin, in the origin's partition); undefined otherwise. A header
 * naming another topic or partition, the record's own offset or a later one is not a
 * copy's: any producer may write the header, and such a record is a record like any other.
 * The projector's ledger, its dead letters and the dead-letter tools all read origins so.
 */
export function copyOrigin(at: Coordinates, origin: string | undefined): string | undefined {
  const c = origin === undefined ? undefined : parseCoordinates(origin);
  if (c === undefined) return undefined;
  return c.topic === at.topic && c.partition === at.partition && c.offset < at.offset
    ? origin
    : undefined;
}

/**
 * The origin the redrive ledger remembered a dead-lettered record by, read back from the
 * ledger (the dead-letter tools): its own coordinates (`coordinates`) when the ledger holds a
 * row of them, which markDeadLettered writes for a record naming an origin of another value;
 * else the origin it names as a copy's (`copyOf`, copyOrigin); else its own coordinates.
 * `hasRow(origin)`: whether the ledger holds a row of that origin.
 */
export function rememberedOrigin(
  record: { coordinates: string; copyOf?: string | undefined },
  hasRow: (origin: string) => boolean,
): string {
  if (record.copyOf === undefined || hasRow(record.coordinates)) return record.coordinates;
  return record.copyOf;
}

/**
 * The key of `attempts` (scanDeadLetters): an origin and the digest of its value (a record
 * naming an origin with another value is no copy of it, and its count is not the origin's).
 */
export function attemptsKey(origin: string, digest: string | undefined): string {
  return `${origin}#${digest ?? ''}`;
}

/** A `redrive-count` as redriveMessage writes it: a plain decimal whole number. */
const REDRIVE_COUNT_TEXT = /^\d{1,9}$/;

/** The highest `redrive-count` read back (9 digits), and so the highest --max-redrives. */
export const MAX_REDRIVE_COUNT = 999_999_999;

/**
 * How many times a record was redriven (its `redrive-count` header); 0 when never. Only a
 * plain decimal whole number of at most 9 digits (`3`, `007`) is a count, as redriveMessage
 * writes it; any other text (`1e3`, `0x10`, ` 2`, `2.0`, `-1`, empty) counts as 0, as a
 * missing header does: a direct producer may write any header, and `Number()` would read
 * `1e3` as 1000 and `0x10` as 16.
 */
export function redriveCount(headers: IHeaders | undefined): number {
  const text = headerText(headers, REDRIVE_COUNT_HEADER);
  return text !== undefined && REDRIVE_COUNT_TEXT.test(text) ? Number(text) : 0;
}

/**
 * The record a dead letter is redriven as: its key `key` (the normalized domain, so that the
 * domain's records stay in one partition), its value, its original headers without the
 * dead-letter ones, and the redrive headers: `redrive-origin` (`origin`, kept from a previous
 * redrive), `redrive-count` one more than it carried, `redrive-from` the dead letter
 * (`<dead-letter topic>:<partition>:<offset>`).
 */
export function redriveMessage(letter: {
  key: Buffer | string | null;
  value: Buffer | null;
  headers: IHeaders;
  origin: string;
  redriveCount: number;
  from: Coordinates;
}): Message {
  // No prototype: a header named `__proto__` is a header like any other.
  const headers: IHeaders = Object.create(null) as IHeaders;
  const dropped = new Set<string>([
    ...DEAD_LETTER_HEADERS,
    REDRIVE_ORIGIN_HEADER,
    REDRIVE_COUNT_HEADER,
    REDRIVE_FROM_HEADER,
  ]);
  for (const [name, value] of Object.entries(letter.headers)) {
    if (!dropped.has(name) && value !== undefined) headers[name] = value;
  }
  headers[REDRIVE_ORIGIN_HEADER] = letter.origin;
  headers[REDRIVE_COUNT_HEADER] = String(letter.redriveCount + 1);
  headers[REDRIVE_FROM_HEADER] = coordinatesText(letter.from);
  return { key: letter.key, value: letter.value, headers };
}

/**
 * A dead-lettered record as the redrive ledger takes it (markDeadLettered): its own
 * coordinates, the origin its `redrive-origin` names when that is a copy's (copyOrigin), and
 * its valueDigest.
 */
export function deadLetteredRecord(
  topic: string,
  partition: number,
  message: Pick<KafkaMessage, 'headers' | 'offset' | 'value'>,
): DeadLetteredRecord {
  const at = { topic, partition, offset: Number(message.offset) };
  const copyOf = copyOrigin(at, redriveOrigin(message));
  return {
    coordinates: coordinatesText(at),
    ...(copyOf === undefined ? {} : { copyOf }),
    digest: valueDigest(message.value),
  };
}
