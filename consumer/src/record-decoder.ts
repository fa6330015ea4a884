import type { KafkaMessage } from 'kafkajs';
import { normalizeDomain, isEventType, type CountedEvent } from '@catchall/core';
import { DecodeError, type DecodedDomainEvent, type EventDecoder } from '@catchall/schemas';

export type DecodedRecord =
  | { kind: 'event'; domain: string; event: CountedEvent }
  | { kind: 'ignored' }
  | { kind: 'dead'; reason: string; detail: string };

/**
 * Turns a record into something the projector can act on. A record that can never be
 * applied becomes `dead` (to the dead-letter topic); a retriable failure (the registry is
 * down) is thrown so that the partition retries instead of dead-lettering good data.
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
  // The writer schema is looked up once per id; every later record decodes without a promise.
  if (value === undefined) return codec.decode(message.value).then(classify, deadOrThrow);
  return classify(value);
}

function deadOrThrow(err: unknown): DecodedRecord {
  if (err instanceof DecodeError) return { kind: 'dead', reason: err.reason, detail: err.message };
  throw err;
}

function classify(value: DecodedDomainEvent): DecodedRecord {
  if (value.type === 'unknown') return { kind: 'ignored' };
  if (!isEventType(value.type)) {
    return { kind: 'dead', reason: 'unknown-event-type', detail: `type "${value.type}"` };
  }
  // Direct producers may send anything: the key is not trusted, the body's domain is.
  const normalized = normalizeDomain(value.domain);
  if (!normalized.ok) {
    return {
      kind: 'dead',
      reason: 'invalid-domain',
      detail: `domain "${value.domain}" ${normalized.reason}`,
    };
  }
  return {
    kind: 'event',
    domain: normalized.domain,
    event: { type: value.type, occurredAt: value.occurredAt },
  };
}
