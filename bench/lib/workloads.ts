/** Key spaces of the benchmarks. Each yields [domain, type] pairs. */
export type Workload = 'zipf' | 'uniform' | 'heavy' | 'distinct';

export const KEY_SPACE = 10_000_000;

/** A small, fast, seeded generator, so that runs are comparable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Zipf-like (s = 1) over the key space: the rank is log-uniform, so few domains are hot. */
function* zipf(
  count: number,
  random: () => number,
  keySpace: number,
): Generator<[string, 'delivered' | 'bounced']> {
  for (let i = 0; i < count; i += 1) {
    const rank = Math.floor(Math.exp(random() * Math.log(keySpace)));
    yield [`z${rank}.example`, random() < 0.05 ? 'bounced' : 'delivered'];
  }
}

function* uniform(
  count: number,
  random: () => number,
  keySpace: number,
): Generator<[string, 'delivered' | 'bounced']> {
  for (let i = 0; i < count; i += 1) {
    yield [
      `u${Math.floor(random() * keySpace)}.example`,
      random() < 0.05 ? 'bounced' : 'delivered',
    ];
  }
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * Heavy domains: mixed-case random names (normalized on the way in), up to 2,500
 * events per domain, about a third of them bounces, except on every 25th domain, which
 * never bounces. Domains are interleaved in groups so that the stream is not sorted.
 */
function* heavy(count: number, random: () => number): Generator<[string, 'delivered' | 'bounced']> {
  let emitted = 0;
  let index = 0;
  while (emitted < count) {
    const group = Array.from({ length: 64 }, () => {
      index += 1;
      const name = Array.from(
        { length: 8 + Math.floor(random() * 8) },
        () => LETTERS[Math.floor(random() * LETTERS.length)],
      ).join('');
      return {
        name: `${name}.Com`,
        left: 1 + Math.floor(random() * 2500),
        neverBounces: index % 25 === 0,
      };
    });
    while (group.length > 0 && emitted < count) {
      const at = Math.floor(random() * group.length);
      const d = group[at]!;
      yield [d.name, !d.neverBounces && random() < 1 / 3 ? 'bounced' : 'delivered'];
      emitted += 1;
      d.left -= 1;
      if (d.left === 0) group.splice(at, 1);
    }
  }
}

/** Every event a domain of its own (`d<i>.example`): as many read model rows as events. */
function* distinct(
  count: number,
  random: () => number,
): Generator<[string, 'delivered' | 'bounced']> {
  for (let i = 0; i < count; i += 1) {
    yield [`d${i}.example`, random() < 0.05 ? 'bounced' : 'delivered'];
  }
}

/**
 * `count` events of a workload, the same for the same seed. `keySpace`: the domains the
 * Zipf-like and uniform loads draw from (the heavy and distinct loads make their own).
 */
export function events(workload: Workload, count: number, seed = 7, keySpace = KEY_SPACE) {
  const random = rng(seed);
  if (workload === 'distinct') return distinct(count, random);
  if (workload === 'zipf') return zipf(count, random, keySpace);
  if (workload === 'uniform') return uniform(count, random, keySpace);
  return heavy(count, random);
}
