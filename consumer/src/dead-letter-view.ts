import type { IHeaders, KafkaMessage } from 'kafkajs';
import {
  coordinatesText,
  headerText,
  parseCoordinates,
  redriveCount,
  copyOrigin,
  redriveOrigin,
  valueDigest,
  type Coordinates,
} from './redrive';

/** A dead letter as the dead-letter tools see it (its headers read, see dead-letters.ts). */
export interface DeadLetterView {
  /** Where the dead letter is in the dead-letter topic. */
  partition: number;
  offset: number;
  /** The dead letter's Kafka timestamp, epoch ms. */
  timestamp: number;
  /** `dlq-reason`; `(none)` for a record without it (not written by the projector). */
  reason: string;
  detail: string;
  /** Where the refused record was: `dlq-original-topic`, `-partition`, `-offset`. */
  original: Coordinates | undefined;
  /** `dlq-original-timestamp`, epoch ms. */
  originalTimestamp: number | undefined;
  /**
   * The origin the headers name: the `redrive-origin` of a redriven record dead-lettered
   * again (copyOf), else the original's coordinates; undefined when the headers name
   * neither. Redrive reads back from the ledger which of the two it was remembered under
   * (rememberedOrigin): a record naming an origin of another value is its own.
   */
  origin: string | undefined;
  /** The origin its `redrive-origin` names when that is a copy's (copyOrigin). */
  copyOf: string | undefined;
  /** The valueDigest of the record kept; undefined when no body was kept. */
  digest: string | undefined;
  /** How many times the record was redriven already (`redrive-count`). */
  redriveCount: number;
  /** False when the dead letter kept no key, value or headers (`dlq-original-bytes`). */
  bodyKept: boolean;
  /** `dlq-original-bytes`: the size of a record not kept. */
  originalBytes: number | undefined;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

function numberOrUndefined(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Reads a dead letter's headers (written by dead-letters.ts; anything else is tolerated). */
export function viewDeadLetter(partition: number, message: KafkaMessage): DeadLetterView {
  const headers = message.headers ?? {};
  const text = (name: string) => headerText(headers, name);
  const topic = text('dlq-original-topic');
  const originalPartition = numberOrUndefined(text('dlq-original-partition'));
  const originalOffset = numberOrUndefined(text('dlq-original-offset'));
  const original =
    topic !== undefined && originalPartition !== undefined && originalOffset !== undefined
      ? parseCoordinates(`${topic}:${originalPartition}:${originalOffset}`)
      : undefined;
  const originalBytes = numberOrUndefined(text('dlq-original-bytes'));
  const copyOf = original && copyOrigin(original, redriveOrigin(message));
  return {
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    reason: text('dlq-reason') ?? '(none)',
    detail: text('dlq-detail') ?? '',
    original,
    originalTimestamp: numberOrUndefined(text('dlq-original-timestamp')),
    origin: original && (copyOf ?? coordinatesText(original)),
    copyOf,
    digest: originalBytes === undefined ? valueDigest(message.value) : undefined,
    redriveCount: redriveCount(headers),
    bodyKept: originalBytes === undefined,
    originalBytes,
    key: message.key ?? null,
    value: message.value ?? null,
    headers,
  };
}

/** True for text a terminal shows as it is: no control characters but tab, newline, return. */
function printable(s: string): boolean {
  for (let i = 0; i < s.length; i += 1) {
    const c = s.charCodeAt(i);
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 127) return false;
  }
  return true;
}

/**
 * A header value as output shows it: a string for valid, printable UTF-8 text (whatever it
 * says, `base64:...` included), `{ base64 }` for any other bytes, so the two never look alike.
 */
export type HeaderValueText = string | { base64: string };

/** A dead letter's headers for output: each value as HeaderValueText, repeated ones as arrays. */
export function headersText(
  headers: IHeaders,
): Record<string, HeaderValueText | HeaderValueText[]> {
  const one = (v: Buffer | string): HeaderValueText => {
    if (typeof v === 'string') return v;
    const s = v.toString('utf8');
    return Buffer.from(s, 'utf8').equals(v) && printable(s) ? s : { base64: v.toString('base64') };
  };
  // No prototype: a header named `__proto__` is a header like any other.
  const out = Object.create(null) as Record<string, HeaderValueText | HeaderValueText[]>;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.map(one) : one(value);
  }
  return out;
}

/** The line a dead letter is listed as (list, redrive): coordinates, reason, origin, headers. */
export function listEntry(view: DeadLetterView) {
  return {
    deadLetter: `${view.partition}:${view.offset}`,
    at: new Date(view.timestamp).toISOString(),
    reason: view.reason,
    detail: view.detail,
    original: view.original ? coordinatesText(view.original) : null,
    originalAt:
      view.originalTimestamp === undefined ? null : new Date(view.originalTimestamp).toISOString(),
    origin: view.origin ?? null,
    redriveCount: view.redriveCount,
    bodyKept: view.bodyKept,
    headers: headersText(view.headers),
  };
}
