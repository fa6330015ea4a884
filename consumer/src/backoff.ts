import type { Logger } from '@catchall/core';

export interface Backoff {
  /** Pauses consumption and resumes it after a delay that doubles with each failure in a row. */
  fail(err: unknown, during: string): void;
  /**
   * A success of the kind of work that failed last (`during`, as given to fail) resets the
   * delay, once the partition runs again; another kind does not (a flush with nothing to
   * write says nothing of a batch), nor does any success while paused.
   */
  succeed(during: string): void;
  paused(): boolean;
  stop(): void;
}

/**
 * What the projector does when Postgres, the registry or the dead-letter topic fails: not
 * crash, not dead-letter good data, but stop fetching, wait, and try again, for as long as
 * it takes. Uncommitted work was already dropped, so a retry starts from the stored position.
 */
export function createBackoff(options: {
  pause: () => void;
  /** Runs before consumption resumes (re-reading positions); a failure waits longer. */
  recover: () => Promise<void>;
  resume: () => void;
  logger: Logger;
  initialMs?: number;
  maxMs?: number;
}): Backoff {
  const initial = options.initialMs ?? 200;
  const max = options.maxMs ?? 5000;
  let delay = initial;
  let timer: NodeJS.Timeout | undefined;
  let failedDuring: string | undefined;

  /** Set by stop(): a recovery still running neither resumes nor schedules another. */
  let stopped = false;

  function schedule(): void {
    timer = setTimeout(() => {
      options.recover().then(
        () => {
          if (stopped) return;
          timer = undefined;
          options.resume();
        },
        (err: unknown) => {
          if (stopped) return;
          options.logger.error({ err, retryInMs: delay }, 'recovery failed; will retry');
          delay = Math.min(delay * 2, max);
          schedule();
        },
      );
    }, delay);
  }

  return {
    fail(err, during) {
      if (timer) return;
      failedDuring = during;
      // A warning: what waits too long is reported as a stalled partition (an error).
      options.logger.warn({ err, during, retryInMs: delay }, 'projection paused; will retry');
      options.pause();
      schedule();
      delay = Math.min(delay * 2, max);
    },
    succeed(during) {
      // While paused, a task that succeeds (a flush with nothing to write) proves nothing:
      // the recovery's own outcome decides, and the delay keeps doubling while it fails.
      if (timer) return;
      if (failedDuring !== undefined && failedDuring !== during) return;
      failedDuring = undefined;
      delay = initial;
    },
    paused: () => timer !== undefined,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
