import avro from 'avsc';
import { DecodeError } from './decode-error';
import { domainEventSchema } from './domain-event';
import {
  createWriterReader,
  exactLong,
  readsAsContract,
  writerTypeOptions,
} from './writer-projection';

type Schema = { fields: Record<string, unknown>[] } & Record<string, unknown>;
const base = (): Schema => structuredClone(domainEventSchema) as Schema;
const field = (s: Schema, name: string) => s.fields.find((f) => f.name === name)!;

const event = {
  eventId: 'e-1',
  domain: 'example.com',
  type: 'delivered',
  occurredAt: 1700000000123,
  source: null,
  eventIdOrigin: 'client',
};

/** Writes `value` with the writer schema, reads it with the projection. */
function roundTrip(schema: Schema, value: Record<string, unknown>) {
  const writer = avro.Type.forSchema(schema as avro.Schema, writerTypeOptions());
  return createWriterReader(writer, 7)(writer.toBuffer(value));
}

describe('reading a writer schema other than the reader', () => {
  it.each([
    ['another namespace', (s: Schema) => (s.namespace = 'com.example.other'), event],
    ['another record name', (s: Schema) => (s.name = 'Outcome'), event],
    ['fields in another order', (s: Schema) => s.fields.reverse(), event],
    [
      'an added optional field',
      (s: Schema) => s.fields.push({ name: 'mx', type: ['null', 'string'], default: null }),
      { ...event, mx: 'mx1.example.com' },
    ],
    [
      'source removed',
      (s: Schema) => (s.fields = s.fields.filter((f) => f.name !== 'source')),
      event,
    ],
    [
      'occurredAt as int',
      (s: Schema) => (field(s, 'occurredAt').type = 'int'),
      { ...event, occurredAt: 5 },
    ],
    [
      'domain as bytes',
      (s: Schema) => (field(s, 'domain').type = 'bytes'),
      { ...event, domain: Buffer.from('example.com') },
    ],
    [
      'domain in a wider union',
      (s: Schema) => (field(s, 'domain').type = ['null', 'string']),
      event,
    ],
    [
      'a renamed field with the old name as alias',
      (s: Schema) => Object.assign(field(s, 'domain'), { name: 'host', aliases: ['domain'] }),
      { ...event, host: 'example.com' },
    ],
  ])('reads %s', (_name, change, value) => {
    const schema = base();
    change(schema);
    const read = roundTrip(schema, value as Record<string, unknown>);
    expect({ ...read, occurredAt: 0 }).toEqual({ ...event, occurredAt: 0 });
  });

  it('reads a double time, dropping the fraction of a millisecond', () => {
    const schema = base();
    field(schema, 'occurredAt').type = 'double';
    expect(roundTrip(schema, { ...event, occurredAt: 1700000000123.9 }).occurredAt).toBe(
      1700000000123,
    );
  });

  it.each([
    ['timestamp-micros', 1700000000123456n],
    ['timestamp-nanos', 1700000000123456789n],
  ])('converts %s to milliseconds, exactly past 2^53', (logicalType, value) => {
    const schema = base();
    field(schema, 'occurredAt').type = { type: 'long', logicalType };
    const writer = avro.Type.forSchema(schema as avro.Schema, writerTypeOptions());
    // The same bytes as the writer's: a long (avsc looks only bare names up in `registry`).
    const plain = base();
    field(plain, 'occurredAt').type = 'long';
    const exact = avro.Type.forSchema(plain as avro.Schema, { registry: { long: exactLong } });
    const body = exact.toBuffer({ ...event, occurredAt: value });
    expect(createWriterReader(writer, 7)(body).occurredAt).toBe(1700000000123);
  });

  it('reads the contract itself on the fast path, and a micros time that only looks like it not', () => {
    const reader = avro.Type.forSchema(domainEventSchema as avro.Schema);
    const same = avro.Type.forSchema(base() as avro.Schema, writerTypeOptions());
    expect(readsAsContract(same, reader)).toBe(true);
    const micros = base();
    field(micros, 'occurredAt').type = { type: 'long', logicalType: 'timestamp-micros' };
    expect(
      readsAsContract(avro.Type.forSchema(micros as avro.Schema, writerTypeOptions()), reader),
    ).toBe(false);
  });

  it('reads an enum symbol the reader does not know as its default, unknown', () => {
    const schema = base();
    const type = field(schema, 'type').type as { symbols: string[] };
    type.symbols.push('deferred');
    expect(roundTrip(schema, { ...event, type: 'deferred' }).type).toBe('unknown');
  });

  it('reads a wider source union, a value that is not a string as no source', () => {
    const schema = base();
    field(schema, 'source').type = ['null', 'string', 'int'];
    expect(roundTrip(schema, { ...event, source: 'mta-1' }).source).toBe('mta-1');
    expect(roundTrip(schema, { ...event, source: 3 })).toEqual(event);
  });

  it('reads who chose the id: `ingest` only when the writer says so, `client` otherwise', () => {
    expect(roundTrip(base(), { ...event, eventIdOrigin: 'ingest' })).toEqual({
      ...event,
      eventIdOrigin: 'ingest',
    });
    const older = base();
    older.fields = older.fields.filter((f) => f.name !== 'eventIdOrigin');
    expect(roundTrip(older, event)).toEqual(event);
    const asText = base();
    field(asText, 'eventIdOrigin').type = 'string';
    expect(roundTrip(asText, { ...event, eventIdOrigin: 'ingest' }).eventIdOrigin).toBe('ingest');
    expect(roundTrip(asText, { ...event, eventIdOrigin: 'someone' }).eventIdOrigin).toBe('client');
  });

  it('reads a null eventId of a wider union as an event without an id', () => {
    const schema = base();
    field(schema, 'eventId').type = ['null', 'string'];
    expect(roundTrip(schema, { ...event, eventId: null })).toEqual({ ...event, eventId: '' });
  });

  it('reads a writer without eventId as an event without an id', () => {
    const schema = base();
    schema.fields = schema.fields.filter((f) => f.name !== 'eventId');
    expect(roundTrip(schema, event)).toEqual({ ...event, eventId: '' });
  });

  it('refuses the record whose domain is null in a wider union, as undecodable', () => {
    const schema = base();
    field(schema, 'domain').type = ['null', 'string'];
    expect(() => roundTrip(schema, { ...event, domain: null })).toThrow(
      expect.objectContaining({ reason: 'undecodable' }),
    );
  });

  it('refuses every record of a writer without a field an event needs, naming it', () => {
    const schema = base();
    schema.fields = schema.fields.filter((f) => f.name !== 'domain');
    expect(() => roundTrip(schema, event)).toThrow(/no field domain/);
  });

  it('reads a union writer by its one record branch, and refuses only a value of another branch', () => {
    const union = avro.Type.forSchema(['null', base()] as avro.Schema, writerTypeOptions());
    const read = createWriterReader(union, 7);
    expect(read(union.toBuffer(event))).toEqual(event);
    expect(() => read(union.toBuffer(null))).toThrow(/null, not a record/);
  });

  it('reads a union writer with two record branches by the branch of each value', () => {
    const micros = base();
    micros.name = 'DomainEventMicros';
    field(micros, 'occurredAt').type = { type: 'long', logicalType: 'timestamp-micros' };
    // A name is defined once per schema: the second branch refers to the first one's enum.
    field(micros, 'type').type = 'io.catchall.events.DomainEventType';
    field(micros, 'eventIdOrigin').type = 'io.catchall.events.EventIdOrigin';
    const union = avro.Type.forSchema(['null', base(), micros] as avro.Schema, writerTypeOptions());
    const read = createWriterReader(union, 7);
    const ofBranch = (name: string, value: Record<string, unknown>) =>
      union.toBuffer({ [name]: value });
    expect(read(ofBranch('io.catchall.events.DomainEvent', event))).toEqual(event);
    expect(
      read(
        ofBranch('io.catchall.events.DomainEventMicros', {
          ...event,
          occurredAt: 1700000000123456,
        }),
      ),
    ).toEqual({ ...event, occurredAt: 1700000000123 });
    expect(() => read(union.toBuffer(null))).toThrow(/null, not a record/);
  });

  it('refuses every record of a writer that holds no record, or a union without one', () => {
    const writer = avro.Type.forSchema('string', writerTypeOptions());
    expect(() => createWriterReader(writer, 7)(writer.toBuffer('x'))).toThrow(
      /string, not a record/,
    );
    const union = avro.Type.forSchema(['null', 'string'], writerTypeOptions());
    expect(() => createWriterReader(union, 7)(union.toBuffer('x'))).toThrow(/no record branch/);
  });

  it('refuses a union body whose branch index is out of range', () => {
    const union = avro.Type.forSchema(['null', base()] as avro.Schema, writerTypeOptions());
    expect(() => createWriterReader(union, 7)(Buffer.from([0x08]))).toThrow(/no union branch/);
  });

  it('refuses a body that is not what the writer schema says', () => {
    const writer = avro.Type.forSchema(base() as avro.Schema);
    expect(() => createWriterReader(writer, 7)(Buffer.from([0xff, 0xff, 0xff]))).toThrow(
      DecodeError,
    );
  });
});
