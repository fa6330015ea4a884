import avro from 'avsc';
import { DecodeError, SchemaIdNotYetKnown } from './decode-error';
import { domainEventSchema, type DomainEvent } from './domain-event';
import { createSchemaDecoder, type WriterSchemaAnswer } from './event-decoder';
import { createWireEncoder } from './wire-format';
import { writerTypeOptions } from './writer-projection';

const contractType = avro.Type.forSchema(domainEventSchema as avro.Schema, writerTypeOptions());
const event: DomainEvent = {
  eventId: 'e-1',
  domain: 'example.com',
  type: 'delivered',
  occurredAt: 1_700_000_000_000,
  source: null,
  eventIdOrigin: 'client',
};

/** An in-memory registry behind the decoder's lookup port, with a clock and a call log. */
function setUp(retryMs = 30_000) {
  const schemas = new Map<number, WriterSchemaAnswer>();
  const asked: number[] = [];
  const failures: Error[] = [];
  let clock = 1_000_000;
  const decoder = createSchemaDecoder(
    (id) => {
      asked.push(id);
      const failure = failures.shift();
      if (failure) return Promise.reject(failure);
      return Promise.resolve(schemas.get(id) ?? { kind: 'not-found' });
    },
    { unknownSchemaRetryMs: retryMs, now: () => clock },
  );
  return {
    decoder,
    schemas,
    asked,
    failures,
    advance(ms: number) {
      clock += ms;
    },
  };
}

const encoded = (id: number) => createWireEncoder(contractType, id).encode(event);

async function reason(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof DecodeError) return err.reason;
  if (err instanceof SchemaIdNotYetKnown) return 'retry';
  throw new Error(`expected a decode verdict, got ${String(err)}`);
}

describe('the event decoder behind its lookup port', () => {
  it('given a known writer id, when it is decoded, then the event comes back and later records decode without a promise', async () => {
    const { decoder, schemas, asked } = setUp();
    schemas.set(7, { kind: 'found', schema: contractType });
    expect(decoder.decodeKnown(encoded(7))).toBeUndefined();
    expect(await decoder.decode(encoded(7))).toEqual(event);
    expect(decoder.decodeKnown(encoded(7))).toEqual(event);
    await decoder.decode(encoded(7));
    expect(asked).toEqual([7]);
  });

  it('refuses values outside the wire format as not-wire-format without asking the registry', async () => {
    const { decoder, asked } = setUp();
    const wrongMagic = Buffer.from(encoded(7));
    wrongMagic[0] = 1;
    for (const value of [null, Buffer.from([0, 0, 0]), wrongMagic]) {
      expect(await reason(decoder.decode(value))).toBe('not-wire-format');
      expect(() => decoder.decodeKnown(value)).toThrow(DecodeError);
    }
    expect(asked).toEqual([]);
  });

  it('given an id the registry does not know, when it is retried, then it asks at most once a second, and dead-letters after the window', async () => {
    const { decoder, asked, advance } = setUp(10_000);
    expect(await reason(decoder.decode(encoded(9)))).toBe('retry');
    advance(500);
    expect(await reason(decoder.decode(encoded(9)))).toBe('retry');
    expect(asked).toEqual([9]);
    advance(600);
    expect(await reason(decoder.decode(encoded(9)))).toBe('retry');
    expect(asked).toEqual([9, 9]);
    advance(9_000);
    expect(await reason(decoder.decode(encoded(9)))).toBe('unknown-schema-id');
  });

  it('given an id given up, when the registry learns it, then records of it are read once it is asked again a window later', async () => {
    const { decoder, schemas, advance } = setUp(10_000);
    await decoder.decode(encoded(9)).catch(() => undefined);
    advance(10_000);
    expect(await reason(decoder.decode(encoded(9)))).toBe('unknown-schema-id');
    schemas.set(9, { kind: 'found', schema: contractType });
    advance(5_000);
    expect(await reason(decoder.decode(encoded(9)))).toBe('unknown-schema-id');
    advance(10_000);
    expect(await decoder.decode(encoded(9))).toEqual(event);
  });

  it('given an unknown id was just given up, when another unknown id arrives, then it is given up at once: a storm costs one wait', async () => {
    const { decoder, advance } = setUp(10_000);
    await decoder.decode(encoded(9)).catch(() => undefined);
    advance(10_000);
    expect(await reason(decoder.decode(encoded(9)))).toBe('unknown-schema-id');
    expect(await reason(decoder.decode(encoded(10)))).toBe('unknown-schema-id');
    advance(10_001);
    // A window after the last give-up, a new unknown id is waited for again.
    expect(await reason(decoder.decode(encoded(11)))).toBe('retry');
  });

  it('remembers at most 100,000 unknown ids: a storm of random ids does not grow it without bound', async () => {
    const { decoder, asked } = setUp();
    await decoder.decode(encoded(1)).catch(() => undefined);
    // Within a second an unknown id is not asked again...
    await decoder.decode(encoded(1)).catch(() => undefined);
    expect(asked.filter((id) => id === 1)).toHaveLength(1);
    for (let id = 2; id <= 100_001; id += 1)
      await decoder.decode(encoded(id)).catch(() => undefined);
    // ...unless 100,000 ids came after it: it was forgotten, and is asked about again.
    await decoder.decode(encoded(1)).catch(() => undefined);
    expect(asked.filter((id) => id === 1)).toHaveLength(2);
  });

  it('given the registry cannot be asked, when the lookup fails, then the failure is passed on and not cached', async () => {
    const { decoder, schemas, failures, asked } = setUp();
    schemas.set(7, { kind: 'found', schema: contractType });
    const unreachable = Object.assign(new Error('connect ECONNREFUSED'), { retriable: true });
    failures.push(unreachable);
    await expect(decoder.decode(encoded(7))).rejects.toBe(unreachable);
    expect(await decoder.decode(encoded(7))).toEqual(event);
    expect(asked).toEqual([7, 7]);
  });

  it('refuses every record of an unparseable or non-Avro schema as undecodable, asking once per id', async () => {
    const { decoder, schemas, asked } = setUp();
    schemas.set(3, { kind: 'unparseable', reason: 'invalid name: a-b' });
    schemas.set(4, { kind: 'found', schema: { type: 'object' } });
    for (let i = 0; i < 2; i += 1) {
      expect(await reason(decoder.decode(encoded(3)))).toBe('undecodable');
      expect(await reason(decoder.decode(encoded(4)))).toBe('undecodable');
    }
    expect(asked).toEqual([3, 4]);
  });

  it('refuses a truncated Avro body as undecodable', async () => {
    const { decoder, schemas } = setUp();
    schemas.set(7, { kind: 'found', schema: contractType });
    const value = encoded(7);
    expect(await reason(decoder.decode(value.subarray(0, value.length - 3)))).toBe('undecodable');
  });
});
