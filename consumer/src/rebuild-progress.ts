import type { Admin } from 'kafkajs';
import type { ProjectionStore } from './projection-store';
import type { RebuildOptions } from './rebuild';

const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);

/** Low and high offsets (first kept, next to be written) of each partition of the topic. */
export async function topicEnds(admin: Admin, topic: string) {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(
    offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }] as const),
  );
}

/** Waits `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const abort = () => {
      clearTimeout(timer);
      resolve();
    };
    // Removed when the time is up: a long rebuild sleeps thousands of times on one signal.
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/**
 * Reports progress every `progressIntervalMs` until the rebuilt version has reached
 * `target` on every partition and is within `switchLag` records of the topic's end;
 * false when aborted first.
 */
export async function followUntilCaughtUp(
  options: RebuildOptions,
  admin: Admin,
  store: ProjectionStore,
  start: Map<number, number>,
  /** Caught up needs at least these positions: the topic's end when the rebuild began. */
  target: Map<number, number>,
  version: number,
): Promise<boolean> {
  const interval = options.progressIntervalMs ?? 1000;
  let previous: { at: number; applied: number; end: number } | undefined;
  for (;;) {
    if (options.signal?.aborted) return false;
    const [positions, ends] = await Promise.all([
      store.positions(options.topic),
      topicEnds(admin, options.topic),
    ]);
    let applied = 0;
    let lag = 0;
    let total = 0;
    for (const [partition, { high }] of ends) {
      const from = start.get(partition) ?? 0;
      const at = positions.get(partition) ?? from;
      applied += Math.max(0, at - from);
      total += Math.max(0, high - from);
      lag += Math.max(0, high - at);
    }
    const end = sum([...ends.values()].map((e) => e.high));
    const now = Date.now();
    let eventsPerSecond = 0;
    let secondsLeft: number | null = null;
    if (previous) {
      const seconds = (now - previous.at) / 1000;
      eventsPerSecond = (applied - previous.applied) / seconds;
      const closing = eventsPerSecond - (end - previous.end) / seconds;
      secondsLeft = lag === 0 ? 0 : closing > 0 ? lag / closing : null;
    }
    previous = { at: now, applied, end };
    options.onProgress?.({ version, applied, total, lag, eventsPerSecond, secondsLeft });
    if (options.signal?.aborted) return false;
    const reached = [...target].every(
      ([partition, high]) => (positions.get(partition) ?? 0) >= high,
    );
    if (reached && lag <= options.switchLag) return true;
    await sleep(interval, options.signal);
  }
}
