/**
 * patches/kafkajs+2.2.4.patch (applied by patch-package after install) rewrites hot spots of
 * kafkajs's producer for speed. These tests hold the rewrites to the original behaviour:
 * Java's murmur2 hashes, record bytes that kafkajs's own decoder reads back, a batch's records
 * written at once equal to records written one by one, CRC-32C checksums, per-partition
 * grouping in order; and, on the consumer's side, records decoded with Number arithmetic and
 * in place to the same offsets, timestamps and fields as with kafkajs's Long arithmetic.
 */
import { randomBytes } from 'node:crypto';
import crc32C from 'kafkajs/src/protocol/recordBatch/crc32C/crc32C';
import murmur2 from 'kafkajs/src/producer/partitioners/default/murmur2';
import groupMessagesPerPartition from 'kafkajs/src/producer/groupMessagesPerPartition';
import Record from 'kafkajs/src/protocol/recordBatch/record/v0';
import RecordDecoder from 'kafkajs/src/protocol/recordBatch/record/v0/decoder';
import decodeBatch from 'kafkajs/src/protocol/recordBatch/v0/decoder';
import { RecordBatch } from 'kafkajs/src/protocol/recordBatch/v0';
import Decoder from 'kafkajs/src/protocol/decoder';
import Encoder from 'kafkajs/src/protocol/encoder';
import Batch from 'kafkajs/src/consumer/batch';
import { CompressionTypes } from 'kafkajs';

/** The bases the batch decoder hands each record: a safe integer as a Number, or undefined. */
const basesOf = (firstOffset: string, firstTimestamp: number | string) => {
  const safe = (text: number | string) =>
    Number.isSafeInteger(Number(text)) ? Number(text) : undefined;
  return { firstOffset: safe(firstOffset), firstTimestamp: safe(firstTimestamp) };
};

describe('the kafkajs patches', () => {
  it('hash keys as Java does (the vectors of Kafka UtilsTest.testMurmur2)', () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) {
      expect(murmur2(key)).toBe(hash);
      expect(murmur2(Buffer.from(key))).toBe(hash);
    }
    // Strings hash as their UTF-8 bytes, ASCII or not, short or long.
    for (const key of ['bücher.example', 'xn--bcher-kva.example', 'a'.repeat(1000), '']) {
      expect(murmur2(key)).toBe(murmur2(Buffer.from(key)));
    }
  });

  it('write the records of a batch at once as the same bytes as one by one', () => {
    const messages = [
      { key: 'example.com', value: Buffer.from([0, 0, 0, 0, 7, 1, 2]) },
      { key: 'bücher.example', value: 'v', timestamp: '1700000000123' },
      { key: null, value: null, headers: { 'dlq-reason': 'undecodable', multi: ['a', 'ü'] } },
      { key: Buffer.from('k'), value: Buffer.alloc(300, 7) },
      ...Array.from({ length: 200 }, (_, i) => ({ key: `d${i}.example`, value: randomBytes(i) })),
    ];
    const first = 1_700_000_000_000;
    const now = first + 50;
    const oneByOne = Buffer.concat(
      messages.map(
        (m, i) =>
          (
            Record({
              ...m,
              offsetDelta: i,
              timestampDelta: Number(m.timestamp ?? now) - first,
            }) as { buffer: Buffer }
          ).buffer,
      ),
    );
    expect(Record.encodeRecords(messages, first, now).equals(oneByOne)).toBe(true);
  });

  it('checksum with CRC-32C (Castagnoli) at every length', () => {
    expect(crc32C(Buffer.from('123456789'))).toBe(0xe3069283);
    // The plain byte-at-a-time definition, against the eight-byte steps of the patch.
    const table = Array.from({ length: 256 }, (_, n) => {
      let c = n;
      for (let k = 0; k < 8; k += 1) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      return c >>> 0;
    });
    const reference = (buffer: Buffer) => {
      let crc = 0xffffffff;
      for (const byte of buffer) crc = (table[(crc ^ byte) & 0xff]! ^ (crc >>> 8)) >>> 0;
      return (crc ^ 0xffffffff) >>> 0;
    };
    for (let length = 0; length < 100; length += 1) {
      const buffer = randomBytes(length);
      expect(crc32C(buffer)).toBe(reference(buffer));
    }
  });

  it('decode a record with thousands of headers, repeated names and names of Object members', () => {
    const names = new Map<string, string[]>();
    for (let i = 0; i < 20_000; i += 1) {
      names.set(`h${i % 5000}`, [...(names.get(`h${i % 5000}`) ?? []), `v${i}`]);
    }
    // fromEntries makes own properties, '__proto__' included.
    const headers = Object.fromEntries([...names, ['constructor', ['c']], ['__proto__', ['p']]]);
    const encoded = Record({ key: null, value: 'v', headers }) as { buffer: Buffer };
    const decoder = new Decoder(encoded.buffer);
    decoder.readVarInt();
    const record = RecordDecoder(decoder, { firstOffset: '0', firstTimestamp: 0, magicByte: 2 });
    expect(Object.keys(record.headers)).toHaveLength(5002);
    expect((record.headers.h7 as Buffer[]).map(String)).toEqual([
      'v7',
      'v5007',
      'v10007',
      'v15007',
    ]);
    expect(String(record.headers['constructor'])).toBe('c');
    expect(String(record.headers['__proto__'])).toBe('p');
  });

  it('encode records that the kafkajs decoder reads back field for field', () => {
    const cases = [
      { key: 'example.com', value: Buffer.from([0, 0, 0, 0, 7, 1, 2]), offsetDelta: 0 },
      { key: Buffer.from('k'), value: null, offsetDelta: 4999, timestampDelta: 3 },
      {
        key: null,
        value: Buffer.alloc(300, 7),
        offsetDelta: 70,
        timestampDelta: -5,
        headers: { 'dlq-reason': 'undecodable', multi: ['a', Buffer.from('b')] },
      },
      { key: 'a', value: 'v', offsetDelta: 1, timestampDelta: 1_234_567_890_123 },
    ];
    for (const c of cases) {
      const encoded = Record(c) as { buffer: Buffer };
      const decoder = new Decoder(encoded.buffer);
      const length = decoder.readVarInt();
      expect(length).toBe(encoded.buffer.length - decoder.offset);
      const context = { firstOffset: '100', firstTimestamp: 1_000_000, magicByte: 2 };
      const record = RecordDecoder(decoder, context, basesOf('100', 1_000_000));
      // Without the bases, Long arithmetic: the same fields.
      const start = Record(c) as { buffer: Buffer };
      const again = new Decoder(start.buffer);
      again.readVarInt();
      expect(RecordDecoder(again, context)).toEqual(record);
      expect(record.offset).toBe(String(100 + c.offsetDelta));
      expect(record.timestamp).toBe(String(1_000_000 + (c.timestampDelta ?? 0)));
      expect(record.key).toEqual(c.key === null ? null : Buffer.from(c.key));
      expect(record.value).toEqual(c.value === null ? null : Buffer.from(c.value));
      const headers = (record.headers ?? {}) as Record<string, Buffer | Buffer[]>;
      expect(headers).toEqual(
        Object.fromEntries(
          Object.entries(c.headers ?? {}).map(([k, v]) => [
            k,
            Array.isArray(v) ? v.map((x) => Buffer.from(x)) : Buffer.from(v),
          ]),
        ),
      );
    }
  });

  it('read a varlong as a Number exactly where it is a safe integer, and leave larger ones to the Long reader', () => {
    const values = [0, 1, -1, 63, -64, 64, 8191, -8192, 1_700_000_000_123, -1_700_000_000_123];
    values.push(2 ** 48 - 1, -(2 ** 48));
    for (let i = 0; i < 1000; i += 1) values.push(Math.round((Math.random() - 0.5) * 2 ** 49));
    for (const v of values) {
      const { buffer } = new Encoder().writeVarLong(v);
      const decoder = new Decoder(buffer);
      expect(decoder.readVarLongNumber()).toBe(v);
      expect(decoder.offset).toBe(buffer.length);
      expect(new Decoder(buffer).readVarLong().toString()).toBe(String(v));
    }
    for (const v of ['281474976710656', '-9223372036854775808', '9223372036854775807']) {
      const { buffer } = new Encoder().writeVarLong(v);
      const decoder = new Decoder(buffer);
      expect(decoder.readVarLongNumber()).toBeUndefined();
      expect(decoder.offset).toBe(0);
      expect(decoder.readVarLong().toString()).toBe(v);
    }
  });

  it('decode offsets and timestamps beyond safe integers as exactly as Long arithmetic does', () => {
    const cases: {
      firstOffset: string;
      firstTimestamp: string;
      offsetDelta: number;
      timestampDelta: number;
    }[] = [
      { firstOffset: '9007199254740990', firstTimestamp: '0', offsetDelta: 5, timestampDelta: 0 },
      {
        firstOffset: '9223372036854775000',
        firstTimestamp: '1',
        offsetDelta: 700,
        timestampDelta: -3,
      },
      { firstOffset: '0', firstTimestamp: '9007199254740993', offsetDelta: 0, timestampDelta: 1 },
      {
        firstOffset: '7',
        firstTimestamp: '1700000000000',
        offsetDelta: 2,
        timestampDelta: 2 ** 50,
      },
      {
        firstOffset: '7',
        firstTimestamp: '-1',
        offsetDelta: 2,
        timestampDelta: -1_700_000_000_000,
      },
    ];
    for (const c of cases) {
      const encoded = Record({
        key: 'k',
        value: 'v',
        offsetDelta: c.offsetDelta,
        timestampDelta: c.timestampDelta,
      }) as { buffer: Buffer };
      const decoder = new Decoder(encoded.buffer);
      decoder.readVarInt();
      const record = RecordDecoder(
        decoder,
        { firstOffset: c.firstOffset, firstTimestamp: c.firstTimestamp, magicByte: 2 },
        basesOf(c.firstOffset, c.firstTimestamp),
      );
      expect(record.offset).toBe(String(BigInt(c.firstOffset) + BigInt(c.offsetDelta)));
      expect(record.timestamp).toBe(String(BigInt(c.firstTimestamp) + BigInt(c.timestampDelta)));
    }
  });

  it.each([
    ['uncompressed', CompressionTypes.None, '42', '1700000000000'],
    ['gzip', CompressionTypes.GZIP, '42', '1700000000000'],
    [
      'uncompressed, bases beyond safe integers',
      CompressionTypes.None,
      '9007199254740990',
      '1152921504606846976',
    ],
  ])(
    'decode a record batch (%s) with its base offset and timestamp worked out once, in the batch decoder',
    async (_name, compression, firstOffset, firstTimestamp) => {
      const deltas = [0, 1, 2, 7];
      const encoded = await RecordBatch({
        compression,
        firstOffset,
        firstTimestamp,
        maxTimestamp: firstTimestamp,
        lastOffsetDelta: 7,
        records: deltas.map((d) =>
          Record({ key: 'k', value: `v${d}`, offsetDelta: d, timestampDelta: d * 1000 }),
        ),
      });
      const batch = await decodeBatch(new Decoder(encoded.buffer));
      expect(batch.records.map((r) => [r.offset, r.timestamp, String(r.value)])).toEqual(
        deltas.map((d) => [
          String(BigInt(firstOffset) + BigInt(d)),
          String(BigInt(firstTimestamp) + BigInt(d * 1000)),
          `v${d}`,
        ]),
      );
      // Nothing is cached on the context the records share (kafkajs's message.batchContext).
      const context = batch.records[0]!.batchContext;
      for (const r of batch.records) expect(r.batchContext).toBe(context);
      expect(Object.getOwnPropertySymbols(context)).toEqual([]);
      expect(Object.keys(context)).not.toContain('bases');
    },
  );

  it('decode records without headers to one shared, frozen, empty object', () => {
    const read = () => {
      const encoded = Record({ key: 'k', value: 'v' }) as { buffer: Buffer };
      const decoder = new Decoder(encoded.buffer);
      decoder.readVarInt();
      return RecordDecoder(decoder, { firstOffset: '0', firstTimestamp: 0, magicByte: 2 });
    };
    const [a, b] = [read(), read()];
    expect(a.headers).toBe(b.headers);
    expect(Object.keys(a.headers)).toEqual([]);
    expect(Object.isFrozen(a.headers)).toBe(true);
    expect(a.headers['constructor']).toBeUndefined();
  });

  it('keep the records of a fetch from the fetched offset on, compared as numbers or as Longs', () => {
    const batchOf = (fetched: string, offsets: string[]) =>
      new Batch('t', fetched, {
        partition: 0,
        highWatermark: '0',
        abortedTransactions: [],
        messages: offsets.map((offset) => ({ offset })),
      }).messages.map((m) => m.offset);
    expect(batchOf('5', ['3', '4', '5', '6'])).toEqual(['5', '6']);
    expect(
      batchOf('9007199254740993', ['9007199254740992', '9007199254740993', '9007199254740994']),
    ).toEqual(['9007199254740993', '9007199254740994']);
    expect(batchOf('10', ['9', '9223372036854775807'])).toEqual(['9223372036854775807']);
  });

  it('group messages by partition, in order', () => {
    const messages = Array.from({ length: 1000 }, (_, i) => ({ key: `d${i}`, value: `${i}` }));
    const grouped = groupMessagesPerPartition({
      topic: 't',
      partitionMetadata: [{ partitionId: 0 }, { partitionId: 1 }, { partitionId: 2 }],
      messages,
      partitioner: ({ message }: { message: { key: string } }) => Number(message.key.slice(1)) % 3,
    }) as Record<string, { value: string }[]>;
    expect(Object.keys(grouped).sort()).toEqual(['0', '1', '2']);
    for (const [partition, list] of Object.entries(grouped)) {
      const values = list.map((m) => Number(m.value));
      expect(values.every((v) => v % 3 === Number(partition))).toBe(true);
      expect(values).toEqual([...values].sort((a, b) => a - b));
    }
    expect(Object.values(grouped).flat()).toHaveLength(1000);
  });
});
