import { errorCatalogue } from '../domain/error-catalogue';
import type { Logger } from 'pino';

/** A resource failed to close at shutdown (each is logged with its error). */
export class ShutdownFailed extends Error {
  readonly code = errorCatalogue.shutdownFailed.code;
  readonly retriable = errorCatalogue.shutdownFailed.retriable;
}

export interface Lifecycle {
  /** Registers a resource's close; shutdown runs them in reverse order of registration. */
  onClose(name: string, close: () => Promise<void> | void): void;
  /** Closes everything once; later calls return the same promise. */
  shutdown(reason: string): Promise<void>;
  /** SIGTERM and SIGINT shut down and exit 0 (1 when a close failed or the deadline passed). */
  installSignalHandlers(): void;
}

export function createLifecycle(options: { logger: Logger; timeoutMs: number }): Lifecycle {
  const { logger, timeoutMs } = options;
  const closers: { name: string; close: () => Promise<void> | void }[] = [];
  let closing: Promise<void> | undefined;

  async function closeAll(): Promise<void> {
    const failures: string[] = [];
    for (const { name, close } of [...closers].reverse()) {
      try {
        await close();
        logger.debug({ resource: name }, 'closed');
      } catch (err) {
        failures.push(name);
        logger.error({ err, resource: name }, 'close failed');
      }
    }
    if (failures.length > 0) throw new ShutdownFailed(`failed to close: ${failures.join(', ')}`);
  }

  function shutdown(reason: string): Promise<void> {
    if (closing) return closing;
    logger.info({ reason }, 'shutting down');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ShutdownFailed(`shutdown took longer than ${timeoutMs} ms`)),
        timeoutMs,
      );
      timer.unref();
    });
    closing = Promise.race([closeAll(), deadline]).finally(() => clearTimeout(timer));
    return closing;
  }

  function installSignalHandlers(): void {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        shutdown(signal).then(
          () => {
            logger.info('stopped');
            process.exit(0);
          },
          (err: unknown) => {
            logger.fatal({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      });
    }
  }

  return {
    onClose: (name, close) => closers.push({ name, close }),
    shutdown,
    installSignalHandlers,
  };
}

/**
 * The line a program prints when it cannot start or run on: `<CODE>: <message>` for an error
 * of the catalogue (CATCHALL_INVALID_CONFIG, CATCHALL_ACCESS_REFUSED...), so that the reason
 * can be matched by its code as in the README's list of errors, else the error's message.
 */
export function failureLine(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('CATCHALL_')
    ? `${code}: ${err.message}`
    : err.message;
}
