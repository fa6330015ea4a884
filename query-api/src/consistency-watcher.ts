import { errors, offsetsApplied, type CatchallError, type PartitionOffsets } from '@catchall/core';
import type { ConsistencyWaitOutcome, QueryMetrics } from './metrics';

export interface ConsistencyWatcherOptions {
  /** The live read model's positions (partition -> next offset to apply) of the events topic. */
  positions: () => Promise<PartitionOffsets>;
  /** A wait longer than this (milliseconds) ends in 503 CATCHALL_CONSISTENCY_TIMEOUT. */
  waitMs: number;
  /** Milliseconds between two reads of the positions while requests wait. */
  pollIntervalMs: number;
  metrics: QueryMetrics;
}

export interface ConsistencyWatcher {
  /**
   * Resolves once the live read model has applied every offset of `offsets` (partition ->
   * offset of a record): at once when the positions read last show it. Rejects with 503
   * CATCHALL_CONSISTENCY_TIMEOUT after `waitMs`, with 503 CATCHALL_UNAVAILABLE when the
   * watcher is closed (shutdown), and with the read's error when reading the positions fails.
   */
  waitFor(offsets: PartitionOffsets): Promise<void>;
  /** Requests waiting now. */
  waiting(): number;
  /** Rejects every waiting request (503) and stops polling; later waits are refused. */
  close(): void;
}

interface Waiter {
  offsets: PartitionOffsets;
  started: number;
  /** Reads of the positions begun before this request came: none of them can time it out. */
  readsBefore: number;
  /** Its time ran out before a read begun after it ended: the next such read decides. */
  expired: boolean;
  timer: NodeJS.Timeout;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * One per process: a request waiting for its consistency token holds no Postgres connection
 * and spins no loop of its own. While requests wait, the watcher reads the live positions
 * (one small query at a time, every `pollIntervalMs`) and wakes those whose offsets are
 * applied; with none waiting it reads nothing. The positions read last are kept, so a token
 * they already satisfy is answered without a query. They only grow: a rebuild switches to its version
 * once it is at or past the live one; only a switch back by hand to an older version makes
 * them go back, which the next read sees (README, "Read-your-writes").
 */
export function createConsistencyWatcher(options: ConsistencyWatcherOptions): ConsistencyWatcher {
  const { metrics } = options;
  let known: PartitionOffsets = new Map();
  const waiters = new Set<Waiter>();
  let polling = false;
  let pollTimer: NodeJS.Timeout | undefined;
  let closed = false;
  /** Reads of the positions begun so far, and the number of the last one that ended. */
  let readsBegun = 0;
  let freshestRead = 0;

  /**
   * A request times out only on positions read after it came (a `waitMs` of 0 included): the
   * positions kept from earlier may be far behind a token the read model applied long ago.
   */
  function isFreshFor(waiter: Waiter, read: number): boolean {
    return read > waiter.readsBefore;
  }

  function settle(waiter: Waiter, outcome: ConsistencyWaitOutcome, err?: unknown): void {
    clearTimeout(waiter.timer);
    waiters.delete(waiter);
    metrics.consistencyWaits.inc({ outcome });
    metrics.consistencyWaitSeconds.observe((performance.now() - waiter.started) / 1000);
    if (err === undefined) waiter.resolve();
    else waiter.reject(err);
  }

  async function poll(): Promise<void> {
    pollTimer = undefined;
    polling = true;
    const read = (readsBegun += 1);
    try {
      known = await options.positions();
      freshestRead = read;
      for (const waiter of waiters) {
        if (offsetsApplied(waiter.offsets, known)) settle(waiter, 'applied');
        else if (waiter.expired && isFreshFor(waiter, read)) {
          settle(waiter, 'timeout', errors.consistencyTimeout(options.waitMs));
        }
      }
    } catch (err) {
      // The lookup that follows would fail the same way: each waiting request gets the error.
      for (const waiter of waiters) settle(waiter, 'failed', err);
    } finally {
      polling = false;
      if (waiters.size > 0 && !closed) pollTimer = setTimeout(startPoll, options.pollIntervalMs);
    }
  }

  function startPoll(): void {
    // poll() catches what reading the positions throws; nothing else in it can.
    void poll();
  }

  return {
    waitFor(offsets) {
      if (closed) return Promise.reject(shuttingDown());
      if (offsetsApplied(offsets, known)) {
        metrics.consistencyWaits.inc({ outcome: 'known' });
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          offsets,
          started: performance.now(),
          readsBefore: readsBegun,
          expired: false,
          timer: setTimeout(() => {
            if (isFreshFor(waiter, freshestRead)) {
              settle(waiter, 'timeout', errors.consistencyTimeout(options.waitMs));
            } else waiter.expired = true;
          }, options.waitMs),
          resolve,
          reject,
        };
        waiters.add(waiter);
        // Idle: read now rather than after an interval; else the next read sees this one too.
        if (!polling && pollTimer === undefined) startPoll();
      });
    },
    waiting: () => waiters.size,
    close() {
      closed = true;
      clearTimeout(pollTimer);
      pollTimer = undefined;
      const err = shuttingDown();
      for (const waiter of waiters) settle(waiter, 'closed', err);
    },
  };
}

function shuttingDown(): CatchallError {
  return errors.unavailable('The query API (shutting down)');
}
