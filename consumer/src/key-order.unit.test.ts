import { createHash, randomBytes } from 'node:crypto';
import { inKeyOrder } from './key-order';

const key = (hex: string) => Buffer.from(hex, 'hex').toString('latin1');
const md5Key = (s: string) => createHash('md5').update(s).digest().toString('latin1');

/** The order a comparator sort of the keys' texts gives (byte order for latin1 keys). */
function textOrder(keys: string[]): string[] {
  return [...keys].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

describe('inKeyOrder', () => {
  it('orders random keys as their bytes compare, and finds them distinct', () => {
    const keys = Array.from({ length: 5000 }, (_, i) => md5Key(`d${i}.example/${i}`));
    const { order, distinct } = inKeyOrder(keys);
    expect(Array.from(order, (i) => keys[i])).toEqual(textOrder(keys));
    expect(new Set(order).size).toBe(keys.length);
    expect(distinct).toBe(true);
  });

  it('orders keys that share their first four bytes by the bytes after them', () => {
    const keys = [
      key('aabbccdd' + 'ff'.repeat(12)),
      key('aabbccdd' + '00'.repeat(12)),
      key('00000001' + '00'.repeat(12)),
      key('aabbccdd' + '7f'.repeat(11) + '80'),
      key('aabbccde' + '00'.repeat(12)),
      key('aabbccdd' + '7f'.repeat(12)),
      key('00000000' + 'ff'.repeat(12)),
    ];
    const { order, distinct } = inKeyOrder(keys);
    expect(Array.from(order)).toEqual([6, 2, 1, 5, 3, 0, 4]);
    expect(distinct).toBe(true);
  });

  it('finds a key given twice, wherever the two are and whatever shares their prefix', () => {
    const shared = 'ffffffff';
    const keys = [
      key(shared + '01'.repeat(12)),
      key(shared + '02'.repeat(12)),
      key('12345678' + '00'.repeat(12)),
      key(shared + '01'.repeat(12)),
    ];
    const { order, distinct } = inKeyOrder(keys);
    expect(distinct).toBe(false);
    expect(Array.from(order, (i) => keys[i])).toEqual(textOrder(keys));
  });

  it('keeps each position once and in byte order across many equal prefixes', () => {
    // 2,000 keys over 16 prefixes: long runs of equal prefixes, each put in order by text.
    const keys = Array.from({ length: 2000 }, (_, i) =>
      key(`0000000${(i % 16).toString(16)}` + randomBytes(12).toString('hex')),
    );
    const { order, distinct } = inKeyOrder(keys);
    expect(Array.from(order, (i) => keys[i])).toEqual(textOrder(keys));
    expect(new Set(order).size).toBe(keys.length);
    expect(distinct).toBe(true);
  });

  it('gives an empty order for no keys and a single position for one', () => {
    expect(inKeyOrder([])).toEqual({ order: new Uint32Array(0), distinct: true });
    expect(inKeyOrder([key('00'.repeat(16))])).toEqual({
      order: Uint32Array.of(0),
      distinct: true,
    });
  });
});
