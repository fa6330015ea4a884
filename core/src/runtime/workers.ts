import cluster, { type Worker } from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { errors } from './errors';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Lifecycle } from './lifecycle';

const REQUEST = 'catchall:metrics-request';
const ANSWER = 'catchall:metrics-answer';

interface MetricsMessage {
  type: typeof REQUEST | typeof ANSWER;
  id: number;
  text?: string;
  error?: string;
}

const isMetricsMessage = (m: unknown): m is MetricsMessage =>
  typeof m === 'object' && m !== null && [REQUEST, ANSWER].includes((m as MetricsMessage).type);

/**
 * The metrics of a whole service. In a worker of `serveInWorkers`, the primary adds up every
 * worker's registry (prom-client's AggregatorRegistry: counters and histograms summed),
 * so a scrape sees the service and not whichever worker took the connection.
 */
export function serviceMetrics(registry: Registry): () => Promise<string> {
  if (!cluster.isWorker) return () => registry.metrics();
  AggregatorRegistry.setRegistries([registry]);
  // prom-client installs a worker's answer to the primary's requests in this constructor.
  new AggregatorRegistry();
  const pending = new Map<number, { resolve: (t: string) => void; reject: (e: Error) => void }>();
  let next = 0;
  process.on('message', (message: unknown) => {
    if (!isMetricsMessage(message) || message.type !== ANSWER) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined) {
      waiter?.reject(Object.assign(errors.internal(), { cause: message.error }));
    } else waiter?.resolve(message.text ?? '');
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = (next += 1);
      pending.set(id, { resolve, reject });
      process.send!({ type: REQUEST, id } satisfies MetricsMessage);
    });
}

interface WorkersOptions {
  /** Processes that share the listening port; 1 runs `run` in this process. */
  workers: number;
  logger: Logger;
  /** How long the primary waits for its workers to stop before it kills them. */
  shutdownTimeoutMs: number;
  /** Starts the service: called in each worker (or here when there is one). */
  run: () => Promise<void>;
}

/**
 * Runs a stateless HTTP service in several processes (node:cluster) so that one machine's
 * cores all answer on one port. The primary only forks, replaces a worker that dies, serves
 * the workers' metrics and passes SIGTERM/SIGINT on; each worker is the whole service
 * with its own pool and its own graceful shutdown.
 */
async function runWorkers(options: WorkersOptions): Promise<void> {
  if (options.workers <= 1 || cluster.isWorker) return options.run();
  const { logger } = options;
  const aggregator = new AggregatorRegistry();
  let stopping = false;

  const fork = () => {
    // A replacement due after a stop began is not started.
    if (stopping) return;
    const worker = cluster.fork();
    worker.on('message', (message: unknown) => {
      if (isMetricsMessage(message) && message.type === REQUEST) answerMetrics(worker, message.id);
    });
  };

  const answerMetrics = (worker: Worker, id: number) => {
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: ANSWER, id, text } satisfies MetricsMessage),
      (err: Error) =>
        worker.send({ type: ANSWER, id, error: err.message } satisfies MetricsMessage),
    );
  };

  const listening = new Set<number>();
  cluster.on('listening', (worker) => listening.add(worker.id));
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    const pid = worker.process.pid;
    if (!listening.has(worker.id)) {
      // It failed at start (its error is logged above): another would fail the same way.
      logger.fatal({ worker: pid, code, signal }, 'a worker failed before it listened');
      stop('a worker failed to start', true);
      return;
    }
    // A worker that died takes its connections with it; the others go on answering.
    logger.error({ worker: pid, code, signal }, 'worker died; starting another');
    setTimeout(fork, 1000);
  });

  const stop = (reason: string, failure = false) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'stopping workers');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    const kill = setTimeout(() => {
      logger.error('workers did not stop in time; killing them');
      for (const w of workers) w.process.kill('SIGKILL');
      process.exit(1);
    }, options.shutdownTimeoutMs);
    kill.unref();
    let failed = failure;
    let left = workers.length;
    if (left === 0) process.exit(failed ? 1 : 0);
    for (const w of workers) {
      w.once('exit', (code, signal) => {
        // A worker still starting has no signal handler yet: SIGTERM ends it, nothing to drain.
        failed ||= code !== 0 && signal !== 'SIGTERM';
        left -= 1;
        if (left === 0) {
          logger.info('stopped');
          process.exit(failed ? 1 : 0);
        }
      });
      w.process.kill('SIGTERM');
    }
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  logger.info({ workers: options.workers }, 'starting workers');
  for (let i = 0; i < options.workers; i += 1) fork();
}

/** How long a worker waits for its dependencies before it listens anyway. */
const WORKER_READY_WAIT_MS = 5_000;

export interface StartedService {
  app: FastifyInstance;
  lifecycle: Lifecycle;
  /** Resolves once the service can take requests (never rejects); absent: at once. */
  ready?: Promise<void>;
}

/** Resolves when `promise` does or after `ms`, whichever is first. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([promise, elapsed]).finally(() => clearTimeout(timer));
}

/**
 * Starts an HTTP service in `WORKERS` processes, each with its signal handlers, listening
 * on HOST:PORT: what each API's entry point does.
 *
 * One process listens at once, and its /readyz keeps traffic away until it is ready. Workers
 * share one port instead: a worker that listens gets its share of connections whatever the
 * others' /readyz said, so a worker listens once it is ready, or after 5 s at the latest
 * so that /readyz can still tell what is missing.
 */
export function serveInWorkers(
  config: { WORKERS: number; SHUTDOWN_TIMEOUT_MS: number; HOST: string; PORT: number },
  logger: Logger,
  start: () => Promise<StartedService>,
): Promise<void> {
  return runWorkers({
    workers: config.WORKERS,
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    async run() {
      const { app, lifecycle, ready } = await start();
      // Registered last, so closed first: a stop while waiting below means never listening
      // (fastify would listen even after its close).
      let stopping = false;
      lifecycle.onClose('start-up', () => {
        stopping = true;
      });
      lifecycle.installSignalHandlers();
      if (cluster.isWorker && ready) await within(ready, WORKER_READY_WAIT_MS);
      if (stopping) return;
      await app.listen({ host: config.HOST, port: config.PORT });
    },
  });
}
