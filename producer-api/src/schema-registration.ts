import { errors, isRetriable, NotReady, type Logger } from '@catchall/core';
import {
  createEventEncoder,
  domainEventSchema,
  lookupSchema,
  registerSchema,
  valueSubject,
  type EventEncoder,
  type RegistryAuth,
} from '@catchall/schemas';

export interface SchemaRegistration {
  /** The encoder once the schema id is known; a 503 error before that. */
  encoder(): EventEncoder;
  /** Registers (or looks up) the schema, retrying with backoff until it succeeds or stop(). */
  start(): Promise<void>;
  stop(): void;
  /** Throws the reason while the schema id is not known yet (for /readyz). */
  check(): Promise<void>;
}

/**
 * A registry that is down at start does not crash the process: the service starts, reports
 * not ready with the reason, and keeps trying in the background.
 */
export function createSchemaRegistration(options: {
  registryUrl: string;
  /** Credentials and CA of the registry (registryConnection), when it asks for them. */
  registryAuth?: RegistryAuth;
  topic: string;
  autoRegister: boolean;
  logger: Logger;
  maxBackoffMs?: number;
}): SchemaRegistration {
  const log = options.logger.child({ component: 'schema-registration' });
  const subject = valueSubject(options.topic);
  let current: EventEncoder | undefined;
  let lastError: Error | undefined = new NotReady('schema registration has not run yet');
  let stopped = false;
  let wake: (() => void) | undefined;

  async function attempt(): Promise<EventEncoder> {
    const { registryUrl, registryAuth } = options;
    const base = { registryUrl, registryAuth, subject, schema: domainEventSchema };
    const schemaId = options.autoRegister
      ? await registerSchema({ ...base, compatibility: 'BACKWARD' })
      : await lookupSchema(base);
    return createEventEncoder({ registryUrl, registryAuth, schemaId });
  }

  async function sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  return {
    encoder() {
      if (!current) throw errors.unavailable('The schema registry');
      return current;
    },
    async start() {
      let backoff = 200;
      while (!stopped && !current) {
        try {
          current = await attempt();
          lastError = undefined;
          log.info({ subject, schemaId: current.schemaId }, 'event schema ready');
        } catch (err) {
          lastError = err as Error;
          const maxMs = options.maxBackoffMs ?? 10000;
          // A refusal (an incompatible schema) waits for an operator to change the registry's
          // compatibility or the subject: asked again at the slowest pace, not given up, so
          // that no restart is needed once it is fixed. /readyz says why meanwhile.
          if (!isRetriable(err)) backoff = maxMs;
          log.error({ err, subject, retryInMs: backoff }, 'event schema not ready; retrying');
          await sleep(backoff);
          backoff = Math.min(backoff * 2, maxMs);
        }
      }
    },
    stop() {
      stopped = true;
      wake?.();
    },
    async check() {
      if (lastError) throw new NotReady(`schema registry: ${lastError.message}`);
    },
  };
}
