import type { Logger } from 'pino';
import { NotReady } from './http';
import type { Lifecycle } from './lifecycle';

export interface DependencyCheckOptions {
  /** The dependency as messages name it: `Kafka`, `schema registry`. */
  dependency: string;
  /**
   * One cheap request to the dependency, bounded by `timeoutMs` itself where its client
   * allows; rejects when the dependency does not answer as it should.
   */
  probe: () => Promise<void>;
  /** Milliseconds between the end of one probe and the start of the next. */
  intervalMs: number;
  /** Milliseconds a probe may take; later it counts as failed (DEPENDENCY_CHECK_TIMEOUT_MS). */
  timeoutMs: number;
  logger: Logger;
  /** The clock, in milliseconds (Date.now); a test's own to age an outcome. */
  now?: () => number;
  /** Closes the probe's own client, once `stop` has stopped probing. */
  close?: () => Promise<void>;
}

/** A dependency probed in the background; its last outcome is a readiness check. */
export interface DependencyCheck {
  /** Resolves once the first probe has an outcome: passed, failed or past its deadline. */
  readonly started: Promise<void>;
  /**
   * Resolves while the last probe passed and is recent; otherwise throws NotReady with the
   * reason (the failure, no answer within the deadline, or no outcome for too long).
   */
  check(): Promise<void>;
  /**
   * True when the last probe failed or passed its deadline: the dependency was asked and did
   * not answer as it should. False before the first outcome, and after a passing one however
   * old (check() counts that as not ready: the probing stopped, not the dependency). Read
   * without waiting, on a request's path (the ingest API refuses early while Kafka fails it).
   */
  failing(): boolean;
  /** Stops probing; resolves once a probe in flight has settled and the client is closed. */
  stop(): Promise<void>;
}

/**
 * Probes a dependency at a fixed interval, in the background, so that a readiness check
 * tells whether it answers even while no traffic flows, and `/readyz` and scrapes only read
 * the last outcome: they stay cheap, and a dependency that stops answering (a frozen broker,
 * a black-holed network) cannot pile requests up, since one probe runs at a time. A probe
 * past `timeoutMs` counts as failed at once; a passing outcome older than twice an interval
 * and a deadline (the probing itself stopped) counts as failed too. A change from passing to
 * failing, and back, is logged once.
 */
export function createDependencyCheck(options: DependencyCheckOptions): DependencyCheck {
  const { dependency, intervalMs, timeoutMs } = options;
  const now = options.now ?? Date.now;
  const log = options.logger.child({ component: 'dependency-check', dependency });
  // Outcomes come at most an interval and a deadline apart; twice that is no probing.
  const maxAgeMs = 2 * (intervalMs + timeoutMs);
  let outcome: { at: number; error?: Error } | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

  function record(error: Error | undefined): void {
    const failedBefore = outcome?.error !== undefined;
    outcome = { at: now(), error };
    if (error && !failedBefore) log.error({ err: error }, 'dependency check failing');
    if (!error && failedBefore) log.info('dependency check passing again');
  }

  async function probeOnce(): Promise<void> {
    let deadline: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      deadline = setTimeout(
        () => reject(new NotReady(`no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    const attempt = options.probe();
    try {
      await Promise.race([attempt, expired]);
      record(undefined);
    } catch (err) {
      record(err instanceof Error ? err : new NotReady(String(err)));
    } finally {
      clearTimeout(deadline);
    }
    // A probe still running past its deadline (its outcome already recorded as failed) is
    // waited for before the next starts: never two at once against a dependency that hangs.
    await Promise.allSettled([attempt]);
  }

  function run(): Promise<void> {
    inFlight = probeOnce().finally(() => {
      inFlight = undefined;
      if (!stopped) timer = setTimeout(() => void run(), intervalMs);
    });
    return inFlight;
  }

  const started = run();
  return {
    started,
    async check() {
      if (!outcome) throw new NotReady(`${dependency} not checked yet`);
      if (outcome.error) throw new NotReady(`${dependency}: ${outcome.error.message}`);
      const age = now() - outcome.at;
      if (age > maxAgeMs) {
        throw new NotReady(
          `${dependency} last checked ${age} ms ago (every ${intervalMs} ms expected)`,
        );
      }
    },
    failing: () => outcome?.error !== undefined,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
      await options.close?.();
    },
  };
}

/**
 * A service's check, started: stopped when `lifecycle` closes (as `name`), and resolved once
 * its first probe has an outcome (passed or failed: an unreachable dependency does not stop
 * the start).
 */
export async function startDependencyCheck(
  check: DependencyCheck,
  name: string,
  lifecycle: Lifecycle,
): Promise<DependencyCheck> {
  lifecycle.onClose(name, () => check.stop());
  await check.started;
  return check;
}
