import { plainArray, textArray } from './pg-array';

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
});
