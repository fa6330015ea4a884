import type { Message } from 'kafkajs';
import { splitToFit } from './publisher';

function message(key: string, valueBytes: number): Message {
  return { key, value: Buffer.alloc(valueBytes) };
}

describe('splitToFit', () => {
  it('keeps messages that fit together as they are, in one group', () => {
    const messages = [message('a.example', 100), message('b.example', 100)];
    const groups = splitToFit(messages, 4096);
    expect(groups).toHaveLength(1);
    expect(groups[0]).toBe(messages);
    expect(splitToFit([], 4096)).toEqual([]);
  });

  it('splits in order into groups of at most the limit, records and overheads counted', () => {
    const messages = Array.from({ length: 5001 }, (_, i) =>
      message(i === 5000 ? 'other.example' : 'one.example', 260),
    );
    const limit = 64 * 1024;
    const groups = splitToFit(messages, limit);
    expect(groups.length).toBeGreaterThan(1);
    expect(groups.flat()).toEqual(messages);
    for (const group of groups) {
      // What Kafka counts for a record batch: its header and each record's fields.
      const bytes = 61 + group.reduce((n, m) => n + 21 + m.key!.length + m.value!.length, 0);
      expect(bytes).toBeLessThanOrEqual(limit);
    }
  });

  it('puts a message larger than the limit in a group of its own (the broker then refuses it)', () => {
    const messages = [message('a', 10), message('b', 10_000), message('c', 10)];
    expect(splitToFit(messages, 4096).map((g) => g.map((m) => m.key))).toEqual([
      ['a'],
      ['b'],
      ['c'],
    ]);
  });
});
