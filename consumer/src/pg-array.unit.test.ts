import { int8Array, plainArray, textArray, uuidArray } from './pg-array';

describe('Postgres array literals', () => {
  it('writes numbers and plain texts as they are', () => {
    expect(plainArray([1, 0, 1700000000123, 2.5])).toBe('{1,0,1700000000123,2.5}');
    expect(plainArray(['0a1b', 'ff'])).toBe('{0a1b,ff}');
    expect(plainArray([])).toBe('{}');
  });

  it('refuses a number whose text Postgres would not read as one', () => {
    expect(() => plainArray([1, Number.NaN])).toThrow(RangeError);
    expect(() => plainArray([Number.POSITIVE_INFINITY])).toThrow('not a finite number');
  });

  it('quotes every text, and escapes quotes and backslashes inside one', () => {
    expect(textArray(['a.example', 'NULL', 'x,y', '{z}', ' sp '])).toBe(
      '{"a.example","NULL","x,y","{z}"," sp "}',
    );
    expect(textArray(['say "hi"', 'back\\slash'])).toBe('{"say \\"hi\\"","back\\\\slash"}');
    expect(textArray([])).toBe('{}');
  });

  it('lays out a binary uuid[] as array_recv reads it: head, then length and bytes per element', () => {
    const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex').toString('latin1');
    const out = uuidArray([key]);
    expect(out.toString('hex')).toBe(
      [
        '00000001', // one dimension
        '00000000', // no nulls
        '00000b86', // element type: uuid (OID 2950)
        '00000001', // one element
        '00000001', // lower bound 1
        '00000010', // 16 bytes
        '00112233445566778899aabbccddeeff',
      ].join(''),
    );
    expect(uuidArray([]).length).toBe(20);
  });

  it('refuses a uuid value that is not 16 bytes as latin1', () => {
    expect(() => uuidArray(['short'])).toThrow(RangeError);
    expect(() => uuidArray(['\u0100'.repeat(16)])).toThrow('not 16 bytes as latin1');
    expect(() => uuidArray(['a'.repeat(15) + '\n'])).not.toThrow();
    expect(() => uuidArray(['a'.repeat(16) + '\n'])).toThrow(RangeError);
  });

  it('writes each bigint as two big-endian halves, negative ones too', () => {
    const out = int8Array([1, -1, 2 ** 40 + 5]);
    expect(out.readInt32BE(8)).toBe(20); // element type: int8
    expect(out.readInt32BE(12)).toBe(3);
    const values = [0, 1, 2].map((i) => out.readBigInt64BE(20 + i * 12 + 4));
    expect(values).toEqual([1n, -1n, 2n ** 40n + 5n]);
  });

  it('refuses a number an int8 would not hold exactly as sent', () => {
    expect(() => int8Array([1.5])).toThrow(RangeError);
    expect(() => int8Array([2 ** 53])).toThrow('not a safe integer');
    expect(() => int8Array([Number.NaN])).toThrow(RangeError);
  });
});
