import {
  formatConsistencyToken,
  mergeConsistencyTokens,
  offsetsApplied,
  parseConsistencyToken,
  MAX_CONSISTENCY_TOKEN_LENGTH,
} from './consistency-token';

const offsets = (entries: [number, number][]) => new Map(entries);

describe('consistency tokens', () => {
  describe('format', () => {
    it('writes the topic, then each partition and its last offset, partitions ascending', () => {
      expect(
        formatConsistencyToken(
          'domain-events',
          offsets([
            [7, 88],
            [3, 1042],
          ]),
        ),
      ).toBe('domain-events:3:1042,7:88');
    });

    it('writes one partition as <topic>:<partition>:<offset>', () => {
      expect(formatConsistencyToken('t.1_x', offsets([[0, 0]]))).toBe('t.1_x:0:0');
    });

    it('refuses a token naming no record', () => {
      expect(() => formatConsistencyToken('t', new Map())).toThrow(RangeError);
    });
  });

  describe('parse', () => {
    it('reads back what format writes', () => {
      const written = offsets([
        [0, 5],
        [11, 9007199254740991],
        [2147483647, 0],
      ]);
      const parsed = parseConsistencyToken(formatConsistencyToken('domain-events', written));
      expect(parsed).toEqual({ ok: true, token: { topic: 'domain-events', offsets: written } });
    });

    it('given tokens of one topic joined by commas (as repeated header lines are), then it reads their merge', () => {
      const parsed = parseConsistencyToken('events:3:10,7:88, events:3:12 ,1:4');
      expect(parsed).toEqual({
        ok: true,
        token: {
          topic: 'events',
          offsets: offsets([
            [3, 12],
            [7, 88],
            [1, 4],
          ]),
        },
      });
    });

    it('takes a topic made of digits: three parts name the topic, two do not', () => {
      expect(parseConsistencyToken('123:4:5,6:7')).toEqual({
        ok: true,
        token: {
          topic: '123',
          offsets: offsets([
            [4, 5],
            [6, 7],
          ]),
        },
      });
    });

    it.each([
      ['', 'empty'],
      ['domain-events', 'a topic alone'],
      ['3:1042', 'no topic'],
      ['domain-events:3', 'no offset'],
      ['domain-events:3:1042,', 'a trailing comma'],
      ['domain-events:3:1042,,7:8', 'an empty entry'],
      ['domain-events:-3:1042', 'a negative partition'],
      ['domain-events:3:+1042', 'a sign'],
      ['domain-events:03:1042', 'a leading zero'],
      ['domain-events:3:1e3', 'an exponent'],
      ['domain-events:3:1042.0', 'a fraction'],
      ['domain-events:2147483648:0', 'a partition beyond int32'],
      ['domain-events:0:9007199254740992', 'an offset beyond 2^53 - 1'],
      ['domain-events:1:2:3', 'four parts'],
      ['dom ain:1:2', 'a topic with a space'],
      ['domain/events:1:2', 'a topic with a slash'],
      ['a:1:2,b:3:4', 'two topics'],
    ])('refuses %j (%s), saying why', (text) => {
      const parsed = parseConsistencyToken(text);
      expect(parsed.ok).toBe(false);
      expect(parsed.ok ? '' : parsed.reason).not.toBe('');
    });

    it('refuses a token longer than its bound before reading it', () => {
      const text = `t:0:0${',1:1'.repeat(MAX_CONSISTENCY_TOKEN_LENGTH / 4)}`;
      expect(parseConsistencyToken(text)).toEqual({
        ok: false,
        reason: expect.stringContaining('longer') as string,
      });
    });
  });

  describe('merge', () => {
    it('keeps the highest offset of each partition', () => {
      expect(
        mergeConsistencyTokens(
          { topic: 't', offsets: offsets([[1, 5]]) },
          {
            topic: 't',
            offsets: offsets([
              [1, 3],
              [2, 9],
            ]),
          },
        ),
      ).toEqual({
        topic: 't',
        offsets: offsets([
          [1, 5],
          [2, 9],
        ]),
      });
    });

    it('refuses tokens of two topics, or none', () => {
      expect(() =>
        mergeConsistencyTokens(
          { topic: 'a', offsets: offsets([[1, 5]]) },
          { topic: 'b', offsets: offsets([[1, 5]]) },
        ),
      ).toThrow(RangeError);
      expect(() => mergeConsistencyTokens()).toThrow(RangeError);
    });
  });

  describe('applied', () => {
    it("is applied once every partition's next offset is above the token's offset", () => {
      const token = offsets([
        [0, 10],
        [1, 4],
      ]);
      expect(
        offsetsApplied(
          token,
          offsets([
            [0, 11],
            [1, 5],
          ]),
        ),
      ).toBe(true);
      expect(
        offsetsApplied(
          token,
          offsets([
            [0, 10],
            [1, 5],
          ]),
        ),
      ).toBe(false);
      expect(offsetsApplied(token, offsets([[0, 11]]))).toBe(false);
      expect(offsetsApplied(offsets([[2, 0]]), new Map())).toBe(false);
    });
  });
});
