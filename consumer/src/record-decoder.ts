import type { KafkaMessage } from 'kafkajs';
import {
  MAX_EVENT_TIME_MS,
  MIN_EVENT_TIME_MS,
  isEventTimeInRange,
  isEventType,
  normalizeDomain,
  type CountedEvent,
} from '@catchall/core';
import { DecodeError, type DecodedDomainEvent, type EventDecoder } from '@catchall/schemas';
import { redriveOrigin, valueDigest } from './redrive';

/** Why a record went to the dead-letter topic (the `dlq-reason` header). */
export type DeadLetterReason =
  | DecodeError['reason']
  | 'unknown-event-type'
  | 'invalid-domain'
  | 'time-out-of-range'
  | 'store-refused';

/** Every reason, once each (the record makes the compiler check that none is missing). */
const REASONS: Record<DeadLetterReason, true> = {
  'not-wire-format': true,
  'unknown-schema-id': true,
  undecodable: true,
  'unknown-event-type': true,
  'invalid-domain': true,
  'time-out-of-range': true,
  'store-refused': true,
};
export const DEAD_LETTER_REASONS = Object.keys(REASONS) as DeadLetterReason[];

/**
 * Reasons that may not hold later: the registry may learn a schema id it did not know. A
 * rebuild that dead-lettered records for such a reason does not switch on its own.
 */
export const TRANSIENT_DEAD_LETTER_REASONS: ReadonlySet<DeadLetterReason> = new Set([
  'unknown-schema-id',
]);

export type DecodedRecord =
  /**
   * `eventId`: the id the client chose, to deduplicate; absent when the ingest API made it.
   * `origin`: the redrive origin of a redriven dead letter (redrive.ts), counted once.
   */
  | {
      kind: 'event';
      domain: string;
      event: CountedEvent;
      eventId?: string;
      origin?: string;
      /** With `origin`: the record's valueDigest, what proves it a copy of the origin. */
      digest?: string;
    }
  | { kind: 'ignored' }
  | { kind: 'dead'; reason: DeadLetterReason; detail: string };

/**
 * Turns a record into something the projector can act on. A record that can never be
 * applied becomes `dead` (to the dead-letter topic); a retriable failure (the registry is
 * down, or does not know the schema id yet) is thrown so that the partition retries
 * instead of dead-lettering good data.
 */
export function decodeRecord(
  codec: EventDecoder,
  message: KafkaMessage,
): DecodedRecord | Promise<DecodedRecord> {
  let value: DecodedDomainEvent | undefined;
  try {
    value = codec.decodeKnown(message.value);
  } catch (err) {
    return deadOrThrow(err);
  }
  // The writer schema is looked up once per id; every later record decodes without a promise
  // (and without a closure).
  if (value === undefined) {
    return codec
      .decode(message.value)
      .then((decoded) => withOrigin(classify(decoded), message), deadOrThrow);
  }
  return withOrigin(classify(value), message);
}

/** An event redriven from the dead-letter topic is marked with its origin (counted once). */
function withOrigin(record: DecodedRecord, message: KafkaMessage): DecodedRecord {
  if (record.kind !== 'event' || message.headers === undefined) return record;
  const origin = redriveOrigin(message);
  if (origin !== undefined) {
    record.origin = origin;
    record.digest = valueDigest(message.value);
  }
  return record;
}

function deadOrThrow(err: unknown): DecodedRecord {
  if (err instanceof DecodeError) return { kind: 'dead', reason: err.reason, detail: err.message };
  throw err;
}

/**
 * The event's meaning: an unknown type is ignored; an invalid domain or a time outside
 * what RFC 3339 writes (and the ingest API takes) is dead-lettered.
 */
export function classify(value: DecodedDomainEvent): DecodedRecord {
  if (value.type === 'unknown') return { kind: 'ignored' };
  if (!isEventType(value.type)) {
    return { kind: 'dead', reason: 'unknown-event-type', detail: `type "${String(value.type)}"` };
  }
  // Direct producers may send anything: the key is not trusted, the body's domain is.
  const normalized = normalizeDomain(value.domain);
  if (!normalized.ok) {
    return {
      kind: 'dead',
      reason: 'invalid-domain',
      detail: `domain "${value.domain.slice(0, 300)}" ${normalized.reason}`,
    };
  }
  if (!isEventTimeInRange(value.occurredAt)) {
    return {
      kind: 'dead',
      reason: 'time-out-of-range',
      detail: `occurredAt ${value.occurredAt} ms is outside ${MIN_EVENT_TIME_MS}..${MAX_EVENT_TIME_MS} (years 0000 to 9999)`,
    };
  }
  const event = { type: value.type, occurredAt: value.occurredAt };
  // An empty id (a writer without the field) names nothing to deduplicate on. Each shape in
  // one literal: a property added afterwards costs the object a second allocation.
  return value.eventIdOrigin !== 'ingest' && value.eventId !== ''
    ? { kind: 'event', domain: normalized.domain, event, eventId: value.eventId }
    : { kind: 'event', domain: normalized.domain, event };
}
