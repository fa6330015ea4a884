import { Registry } from 'prom-client';
import { errorCatalogue, errors, type PartitionOffsets } from '@catchall/core';
import { createConsistencyWatcher } from './consistency-watcher';
import { createQueryMetrics } from './metrics';

/**
 * The live positions as the projector moves them, in memory: `reads` counts the watcher's
 * queries, `failWith` makes the next read fail.
 */
function inMemoryPositions() {
  const state = {
    positions: new Map<number, number>(),
    reads: 0,
    failWith: undefined as unknown,
    read(): Promise<PartitionOffsets> {
      state.reads += 1;
      if (state.failWith !== undefined) {
        const err = state.failWith;
        state.failWith = undefined;
        return Promise.reject(err);
      }
      return Promise.resolve(new Map(state.positions));
    },
  };
  return state;
}

function watcherOver(positions: ReturnType<typeof inMemoryPositions>, waitMs = 2000) {
  const registry = new Registry();
  const watcher = createConsistencyWatcher({
    positions: () => positions.read(),
    waitMs,
    pollIntervalMs: 10,
    metrics: createQueryMetrics(registry),
  });
  return { watcher, registry };
}

/** How a promise has settled so far, without waiting for it. */
function watch(promise: Promise<void>) {
  const seen: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = {
    state: 'pending',
  };
  promise.then(
    () => (seen.state = 'resolved'),
    (error: unknown) => {
      seen.state = 'rejected';
      seen.error = error;
    },
  );
  return seen;
}

const token = (entries: [number, number][]) => new Map(entries);

describe('the consistency watcher', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('given positions past the token, when a request waits, then it is answered after one read', async () => {
    const positions = inMemoryPositions();
    positions.positions.set(3, 11);
    const { watcher } = watcherOver(positions);
    await expect(watcher.waitFor(token([[3, 10]]))).resolves.toBeUndefined();
    expect(positions.reads).toBe(1);
  });

  it('given the positions read last satisfy a token, then it is answered without a query', async () => {
    const positions = inMemoryPositions();
    positions.positions.set(0, 100);
    const { watcher } = watcherOver(positions);
    await watcher.waitFor(token([[0, 50]]));
    expect(positions.reads).toBe(1);
    await watcher.waitFor(token([[0, 99]]));
    await watcher.waitFor(token([[0, 10]]));
    expect(positions.reads).toBe(1);
    expect(watcher.waiting()).toBe(0);
  });

  it('given the projector applies the records later, then the request is woken by the read after it, and reads stop once none waits', async () => {
    const positions = inMemoryPositions();
    const { watcher } = watcherOver(positions);
    const seen = watch(
      watcher.waitFor(
        token([
          [1, 5],
          [2, 7],
        ]),
      ),
    );
    await jest.advanceTimersByTimeAsync(50);
    expect(seen.state).toBe('pending');
    positions.positions.set(1, 6);
    await jest.advanceTimersByTimeAsync(50);
    expect(seen.state).toBe('pending');
    positions.positions.set(2, 8);
    await jest.advanceTimersByTimeAsync(10);
    expect(seen.state).toBe('resolved');
    const readsThen = positions.reads;
    await jest.advanceTimersByTimeAsync(1000);
    expect(positions.reads).toBe(readsThen);
  });

  it('reads once per interval however many requests wait: one shared poll, not one per request', async () => {
    const positions = inMemoryPositions();
    const { watcher } = watcherOver(positions);
    const waits = Array.from({ length: 500 }, (_, i) =>
      watch(watcher.waitFor(token([[i % 7, i]]))),
    );
    await jest.advanceTimersByTimeAsync(100);
    expect(positions.reads).toBeLessThanOrEqual(11);
    for (let p = 0; p < 7; p += 1) positions.positions.set(p, 1000);
    await jest.advanceTimersByTimeAsync(10);
    expect(waits.every((w) => w.state === 'resolved')).toBe(true);
  });

  it('given the records are not applied within waitMs, then the request gets 503 CATCHALL_CONSISTENCY_TIMEOUT, and its timer is gone', async () => {
    const positions = inMemoryPositions();
    positions.positions.set(0, 3);
    const { watcher, registry } = watcherOver(positions, 2000);
    const seen = watch(watcher.waitFor(token([[0, 3]])));
    await jest.advanceTimersByTimeAsync(1999);
    expect(seen.state).toBe('pending');
    await jest.advanceTimersByTimeAsync(1);
    expect(seen.state).toBe('rejected');
    expect(seen.error).toMatchObject({
      code: errorCatalogue.consistencyTimeout.code,
      statusCode: 503,
      retriable: true,
    });
    expect(watcher.waiting()).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
    expect(await registry.getSingleMetricAsString('catchall_consistency_waits_total')).toContain(
      'outcome="timeout"} 1',
    );
  });

  it('given a wait of 0 and positions kept from long ago, then a token applied since is answered by a fresh read, not timed out on the old positions', async () => {
    const positions = inMemoryPositions();
    positions.positions.set(0, 1);
    const { watcher } = watcherOver(positions, 0);
    await jest.advanceTimersByTimeAsync(0);
    // A first request reads the positions of then; the projector moves on after it.
    const first = watch(watcher.waitFor(token([[0, 0]])));
    await jest.advanceTimersByTimeAsync(0);
    expect(first.state).toBe('resolved');
    positions.positions.set(0, 50);
    // The read answering this one is slow: the timer of 0 ms fires before it ends.
    let release: () => void = () => undefined;
    const slow = new Promise<void>((r) => (release = r));
    const read = positions.read.bind(positions);
    positions.read = () => slow.then(read);
    const later = watch(watcher.waitFor(token([[0, 40]])));
    await jest.advanceTimersByTimeAsync(5);
    expect(later.state).toBe('pending');
    release();
    await jest.advanceTimersByTimeAsync(0);
    expect(later.state).toBe('resolved');
    // Not applied by the fresh read either: the timeout stands, at once.
    const beyond = watch(watcher.waitFor(token([[0, 99]])));
    await jest.advanceTimersByTimeAsync(20);
    expect(beyond.state).toBe('rejected');
    expect(beyond.error).toMatchObject({ code: errorCatalogue.consistencyTimeout.code });
    expect(watcher.waiting()).toBe(0);
  });

  it('given reading the positions fails, then each waiting request gets that failure (the lookup would too)', async () => {
    const positions = inMemoryPositions();
    positions.failWith = errors.unavailable('Postgres');
    const { watcher } = watcherOver(positions);
    await expect(watcher.waitFor(token([[0, 0]]))).rejects.toMatchObject({
      code: errorCatalogue.unavailable.code,
    });
    expect(jest.getTimerCount()).toBe(0);
  });

  it('when closed, then waiting requests get 503 CATCHALL_UNAVAILABLE at once, every timer is cleared, and later waits are refused', async () => {
    const positions = inMemoryPositions();
    const { watcher } = watcherOver(positions);
    const waits = [
      watch(watcher.waitFor(token([[0, 0]]))),
      watch(watcher.waitFor(token([[1, 0]]))),
    ];
    await jest.advanceTimersByTimeAsync(20);
    watcher.close();
    await jest.advanceTimersByTimeAsync(0);
    for (const w of waits) {
      expect(w.state).toBe('rejected');
      expect(w.error).toMatchObject({ code: errorCatalogue.unavailable.code, statusCode: 503 });
    }
    expect(jest.getTimerCount()).toBe(0);
    await expect(watcher.waitFor(token([[0, 0]]))).rejects.toMatchObject({ statusCode: 503 });
  });
});
