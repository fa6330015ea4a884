import avro from 'avsc';
import { DecodeError } from './decode-error';
import type { DecodedDomainEvent } from './domain-event';

/** Reads one Avro body written with some writer schema as a domain event; throws DecodeError. */
export type EventReader = (body: Buffer) => DecodedDomainEvent;

const KNOWN_TYPES = new Set(['delivered', 'bounced']);
/** Units per millisecond of the timestamp logical types (Avro specification 1.12, "Timestamps"). */
const TIME_UNITS: Record<string, number> = {
  'timestamp-millis': 1,
  'local-timestamp-millis': 1,
  'timestamp-micros': 1e3,
  'local-timestamp-micros': 1e3,
  'timestamp-nanos': 1e6,
  'local-timestamp-nanos': 1e6,
};

/** Keeps a timestamp logical type on the type (values pass unchanged), so its unit is known. */
class KeptTimestamp extends avro.types.LogicalType {
  override _fromValue(value: unknown) {
    return value;
  }
  override _toValue(value: unknown) {
    return value;
  }
  override _resolve(type: avro.Type) {
    return avro.Type.isType(type, 'int', 'long', 'logical') ? (value: unknown) => value : undefined;
  }
}

/**
 * avsc options for writer schemas (the registry client's `forSchemaOptions`): timestamp
 * logical types are kept on the types, which avsc otherwise drops with their unit. A new
 * object each time: avsc keeps the names it parsed in the options it is given.
 */
export function writerTypeOptions(): Partial<avro.ForSchemaOptions> {
  return {
    logicalTypes: Object.fromEntries(Object.keys(TIME_UNITS).map((n) => [n, KeptTimestamp])),
  };
}

/**
 * Avro longs read as BigInt (avsc's documented LongType.__with), so that any 64-bit value
 * a writer sends is read exactly (nanoseconds since 1970 pass 2^53) and then judged.
 */
export const exactLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: BigInt,
  toJSON: Number,
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

interface WriterField {
  name: string;
  aliases: string[];
  type: avro.Type;
}

function undecodable(message: string): DecodeError {
  return new DecodeError('undecodable', message);
}

/** A union value as avsc gives it when the union is ambiguous: `{ branchName: value }`. */
function unwrap(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    const entries = Object.entries(value);
    if (entries.length === 1) return entries[0]![1];
  }
  return value;
}

function text(value: unknown, field: string): string {
  const v = unwrap(value);
  if (typeof v === 'string') return v;
  // Avro resolution reads bytes as a string and back (specification 1.12, "Schema Resolution").
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  throw undecodable(`field ${field} holds ${v === null ? 'null' : typeof v}, not a string`);
}

/** A string (or bytes) value, or null for anything else: for the fields nothing counts. */
function optionalText(value: unknown): string | null {
  const v = unwrap(value);
  return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : null;
}

/** The logical type of a field's type, or of the non-null branch of a union. */
function logicalTypeOf(type: avro.Type): string | undefined {
  const schema = type.schema({ exportAttrs: true }) as unknown;
  const branches = Array.isArray(schema) ? schema : [schema];
  for (const branch of branches) {
    if (branch !== null && typeof branch === 'object') {
      const logical = (branch as { logicalType?: unknown }).logicalType;
      if (typeof logical === 'string') return logical;
    }
  }
  return undefined;
}

/**
 * The schema with every `long` written as its bare name, the only form avsc looks up in
 * `registry` (an object `{"type": "long", ...}` would get avsc's own long type).
 */
function plainLongs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(plainLongs);
  if (schema === null || typeof schema !== 'object') return schema;
  const node = schema as Record<string, unknown>;
  if (node.type === 'long') return 'long';
  const copy: Record<string, unknown> = { ...node };
  if (typeof node.type === 'object') copy.type = plainLongs(node.type);
  if (Array.isArray(node.fields)) {
    copy.fields = node.fields.map((f: Record<string, unknown>) => ({
      ...f,
      type: plainLongs(f.type),
    }));
  }
  for (const key of ['items', 'values'] as const) {
    if (node[key] !== undefined) copy[key] = plainLongs(node[key]);
  }
  return copy;
}

/**
 * True when bodies of `writer` read as the contract `reader` itself (the fast path): the
 * same canonical form (Avro's Parsing Canonical Form ignores logical types) and a time in
 * milliseconds, not a `timestamp-micros` or `-nanos` long that only looks the same.
 */
export function readsAsContract(writer: avro.Type, reader: avro.Type): boolean {
  if (!writer.equals(reader) || writer.typeName !== 'record') return false;
  const time = (writer as avro.types.RecordType).fields.find((f) => f.name === 'occurredAt');
  return time !== undefined && TIME_UNITS[logicalTypeOf(time.type) ?? 'timestamp-millis'] === 1;
}

/** The branch index that starts a union's value: a zig-zag varint (Avro specification 1.12, "Unions"). */
const UNION_INDEX = avro.Type.forSchema('int');

function fieldNamed(fields: WriterField[], name: string): WriterField | undefined {
  return fields.find((f) => f.name === name) ?? fields.find((f) => f.aliases.includes(name));
}

/**
 * Builds the reader of one writer schema by field name, as Avro schema resolution does
 * (specification 1.12, "Schema Resolution"), and as leniently as the registry's
 * compatibility check lets writers be, since any schema it accepts may reach the topic:
 * - record and enum names are not compared (another namespace or name reads the same);
 * - a union writer is read by the branch of each value (resolution picks the reader's
 *   record for each writer branch): a value of a record branch is read as below, a value
 *   of any other branch (a null, say) makes that record undecodable, not the others;
 * - fields are matched by name, else by a writer field's alias, in any order; fields the
 *   reader does not know are dropped; a writer lacking `domain`, `type` or `occurredAt`
 *   cannot be read (an event needs them); `eventId` reads as '' (no id) and `source` as
 *   null when the writer lacks them or their value is not a string (a null in a union),
 *   since a registry under BACKWARD accepts a writer that drops or widens any field;
 *   `eventIdOrigin` reads as `client` unless its value is the symbol or string `ingest`;
 * - string and bytes read as each other; int, long, float and double read as a time (a
 *   fraction of a millisecond is dropped, rounding toward minus infinity), converted from
 *   the writer's `timestamp-micros` or `-nanos` logical type when it has one;
 * - a union field is resolved per value: a value of a usable branch is read, another (a
 *   null domain, say) makes that record undecodable, not the others; `source`, which
 *   nothing counts, reads as null when its value is not a string;
 * - an enum symbol or string that is not `delivered` or `bounced` reads as the enum's
 *   default `unknown`, which the projector ignores.
 * Per record, the body is decoded with the writer's own schema (avsc), then projected.
 */
export function createWriterReader(writer: avro.Type, schemaId: number): EventReader {
  // The same schema read with exact longs (the registry client's type rounds past 2^53);
  // `writer` keeps the logical types, which the exact copy drops with the long's object form.
  const exact = avro.Type.forSchema(plainLongs(writer.schema()) as avro.Schema, {
    registry: { long: exactLong },
  });
  if (writer.typeName === 'record') {
    return recordReader(writer as avro.types.RecordType, exact, schemaId);
  }
  if (!writer.typeName.startsWith('union'))
    return refuse(`writer schema ${schemaId} is a ${writer.typeName}, not a record`);
  const branches = (writer as unknown as { types: avro.Type[] }).types;
  const exactBranches = (exact as unknown as { types: avro.Type[] }).types;
  const readers = branches.map((branch, i) =>
    branch.typeName === 'record'
      ? recordReader(branch as avro.types.RecordType, exactBranches[i]!, schemaId)
      : undefined,
  );
  if (readers.every((r) => r === undefined)) {
    return refuse(`writer schema ${schemaId} is a union with no record branch`);
  }
  return (body) => {
    const start: { value: unknown; offset: number } = UNION_INDEX.decode(body, 0);
    const { value: index, offset } = start;
    if (offset < 0 || typeof index !== 'number' || index < 0 || index >= branches.length) {
      throw undecodable('Avro body cannot be decoded: no union branch index');
    }
    const read = readers[index];
    if (read === undefined) {
      const kind = branches[index]!.typeName;
      throw undecodable(`the value is ${kind}, not a record`);
    }
    return read(body.subarray(offset));
  };
}

/** A reader that refuses every body with the same reason (a writer nothing can be read of). */
function refuse(message: string): EventReader {
  return () => {
    throw undecodable(message);
  };
}

/** The reader of a record writer: `record` for its fields and logical types, `exact` to decode. */
function recordReader(
  record: avro.types.RecordType,
  exact: avro.Type,
  schemaId: number,
): EventReader {
  const fields = record.fields.map((f) => ({
    name: f.name,
    aliases: f.aliases,
    type: f.type,
  }));
  const missing = ['domain', 'type', 'occurredAt'].filter((name) => !fieldNamed(fields, name));
  if (missing.length > 0) {
    return refuse(
      `writer schema ${schemaId} has no field ${missing.join(', ')}, which the reader needs (no default)`,
    );
  }
  const eventId = fieldNamed(fields, 'eventId')?.name;
  const domain = fieldNamed(fields, 'domain')!.name;
  const type = fieldNamed(fields, 'type')!.name;
  const time = fieldNamed(fields, 'occurredAt')!;
  const source = fieldNamed(fields, 'source')?.name;
  const origin = fieldNamed(fields, 'eventIdOrigin')?.name;
  const unit = TIME_UNITS[logicalTypeOf(time.type) ?? 'timestamp-millis'] ?? 1;

  function millis(value: unknown): number {
    const v = unwrap(value);
    if (typeof v === 'bigint') {
      const ms = Number(v) / unit;
      // Beyond 2^53 the number is rounded, but such a time is far outside any range kept.
      return Math.floor(ms);
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw undecodable(`field occurredAt holds ${JSON.stringify(v) ?? 'nothing'}, not a time`);
    }
    return Math.floor(v / unit);
  }

  function eventType(value: unknown): DecodedDomainEvent['type'] {
    const v = unwrap(value);
    if (typeof v !== 'string') throw undecodable('field type holds no symbol');
    return KNOWN_TYPES.has(v) ? (v as DecodedDomainEvent['type']) : 'unknown';
  }

  return (body) => {
    let decoded: Record<string, unknown>;
    try {
      decoded = exact.fromBuffer(body) as Record<string, unknown>;
    } catch (err) {
      throw undecodable(`Avro body cannot be decoded: ${(err as Error).message}`);
    }
    const from = source === undefined ? null : unwrap(decoded[source]);
    return {
      eventId: optionalText(eventId === undefined ? null : decoded[eventId]) ?? '',
      domain: text(decoded[domain], 'domain'),
      type: eventType(decoded[type]),
      occurredAt: millis(decoded[time.name]),
      source:
        typeof from === 'string' ? from : Buffer.isBuffer(from) ? from.toString('utf8') : null,
      // Only the ingest API's own mark says an id needs no check: anything else is the client's.
      eventIdOrigin:
        origin !== undefined && unwrap(decoded[origin]) === 'ingest' ? 'ingest' : 'client',
    };
  };
}
