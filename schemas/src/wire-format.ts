import type avro from 'avsc';
import { DecodeError } from './decode-error';
import type { DecodedDomainEvent, DomainEvent } from './domain-event';
import type { EventReader } from './writer-projection';

/**
 * Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then the Avro body
 * (Confluent Schema Registry documentation, "Wire format").
 */
const MAGIC = 0;
/** Bytes before the Avro body: the magic byte and the schema id. */
export const WIRE_HEADER_BYTES = 5;

export interface EventEncoder {
  readonly schemaId: number;
  /** Confluent wire format with the writer schema `schemaId`; synchronous, no I/O. */
  encode(event: DomainEvent): Buffer;
}

/**
 * Encodes events with `writerType`, the Avro type of registered schema `schemaId`. Pure
 * CPU: header and body are written into scratch space once, then copied out into one
 * exact-size buffer (no zero-filled body buffer, no concatenation per event). Throws
 * avsc's error for an event the type does not accept.
 */
export function createWireEncoder(writerType: avro.Type, schemaId: number): EventEncoder {
  const scratch = Buffer.alloc(64 * 1024);
  scratch.writeUInt8(MAGIC, 0);
  scratch.writeInt32BE(schemaId, 1);
  return {
    schemaId,
    encode(event) {
      const end = writerType.encode(event, scratch, WIRE_HEADER_BYTES);
      // Negative: the event does not fit in the scratch space.
      if (end < 0) {
        return Buffer.concat([scratch.subarray(0, WIRE_HEADER_BYTES), writerType.toBuffer(event)]);
      }
      const value = Buffer.allocUnsafe(end);
      scratch.copy(value, 0, 0, end);
      return value;
    },
  };
}

/**
 * The schema id of a record value in the wire format. Throws DecodeError `not-wire-format`
 * for a null value (a tombstone), one shorter than the header, or a wrong magic byte.
 */
export function wireSchemaId(value: Buffer | null): number {
  if (!value || value.length < WIRE_HEADER_BYTES || value.readUInt8(0) !== MAGIC) {
    throw new DecodeError('not-wire-format', 'value is not in the Confluent wire format');
  }
  return value.readInt32BE(1);
}

/**
 * Reads the Avro body after the header with `reader`. Whatever else the reader throws (a
 * truncated body, a bad union branch) becomes DecodeError `undecodable`.
 */
export function readWireBody(reader: EventReader, value: Buffer): DecodedDomainEvent {
  try {
    return reader(value.subarray(WIRE_HEADER_BYTES));
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw new DecodeError('undecodable', `Avro body cannot be decoded: ${(err as Error).message}`);
  }
}
