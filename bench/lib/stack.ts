import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import {
  INGEST_NODE_OPTIONS,
  createLifecycle,
  withNodeOptions,
  type Lifecycle,
} from '@catchall/core';
import { startInfra, freePort, type Infra } from '@catchall/scripts';
import { markInterrupted } from './interruption';
import { childrenOf, descendantsOf, processCpuSeconds } from './process-cpu';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** The real broker, registry and Postgres on free loopback ports, as the tests use them. */
function startStack(options: { postgresSharedBuffers?: string } = {}): Promise<Infra> {
  const t0 = Date.now();
  return startInfra({
    profile: 'test',
    ports: { kafka: 0, kafkaController: 0, registry: 0, postgres: 0 },
    databaseUrl: process.env.DATABASE_URL,
    postgresSharedBuffers: options.postgresSharedBuffers,
    log: (m) => console.log(`[infra +${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`),
  });
}

function readyOnNewConnection(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    http
      .get(url, { agent: false, timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      })
      .on('error', () => resolve(false))
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy();
      });
  });
}

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  /** CPU seconds the service used so far, its workers included (from /proc: Linux; else NaN). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** User and system CPU seconds of a process and of its children (a primary's workers). */
function cpuSecondsOf(pid: number): number {
  if (process.platform !== 'linux') return NaN;
  // A worker that exited since the list was read: its time is gone with it.
  return [pid, ...childrenOf(pid)].reduce((sum, p) => sum + (processCpuSeconds(p) ?? 0), 0);
}

/** The services, and the bare fastify server that is the single PUTs' baseline (bare-fastify.ts). */
export type ServiceName = 'producer-api' | 'consumer' | 'query-api' | 'bare fastify';

/** A service's compiled entry point. */
function entryPoint(name: ServiceName): string {
  if (name === 'bare fastify') return path.join(__dirname, 'bare-fastify.js');
  return path.join(ROOT, name, 'dist', 'main.js');
}

/**
 * Runs a service's compiled entry point (or `script`, another entry point of it) and waits
 * for /readyz.
 */
export async function startService(
  name: ServiceName,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  script = entryPoint(name),
): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, script], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      // As npm start runs it (scripts/src/start.ts).
      ...(name === 'producer-api'
        ? { NODE_OPTIONS: withNodeOptions(INGEST_NODE_OPTIONS, process.env.NODE_OPTIONS) }
        : {}),
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60000;
  // Ready on several fresh connections in a row: with WORKERS, each goes to the next worker.
  let readyInARow = 0;
  for (;;) {
    readyInARow = (await readyOnNewConnection(`${url}/readyz`)) ? readyInARow + 1 : 0;
    if (readyInARow >= 2 * Number(env.WORKERS ?? 1)) break;
    if (readyInARow > 0) continue;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    child,
    cpuSeconds: () => cpuSecondsOf(child.pid!),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Sends `signal` to each process of `pids`; one that exited meanwhile is skipped. */
function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      // ESRCH: it exited since the list was read. Anything else is said, and the rest still
      // get theirs.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') {
        console.error(`[bench] ${signal} to ${pid}: ${(err as Error).message}`);
      }
    }
  }
}

/**
 * Runs a benchmark on a stack of its own: what the benchmark registers with the lifecycle is
 * closed in reverse order when it ends (or fails), then the stack is stopped.
 *
 * Interrupted by SIGINT or SIGTERM (Ctrl-C, a CI's timeout), also while the stack is still
 * starting: no result is written from then on (report), the lifecycle closes the same way,
 * any process below this one that no lifecycle knows of (a load generator, Kafka's perf tool)
 * gets SIGTERM, and the process exits 128 + the signal's number, as a shell reports a
 * process the signal ended (1 when a close failed). A second signal does not wait: every
 * process below gets SIGKILL and the process exits at once.
 */
export async function withStack(
  options: { postgresSharedBuffers?: string },
  bench: (stack: Infra, lifecycle: Lifecycle) => Promise<void>,
): Promise<void> {
  const lifecycle = createLifecycle({ logger: pino({ level: 'warn' }), timeoutMs: 300_000 });
  let interrupted: NodeJS.Signals | undefined;
  const stopOn = (signal: NodeJS.Signals) => {
    const code = 128 + os.constants.signals[signal];
    if (interrupted) {
      console.log(`[bench] ${signal} again: killing every process this one started`);
      signalAll(descendantsOf(process.pid), 'SIGKILL');
      process.exit(code);
    }
    interrupted = signal;
    markInterrupted(signal);
    console.log(`[bench] ${signal}: stopping what was started (again to kill it all at once)`);
    // Registered before any other caller's: it runs first when the shutdown settles.
    void lifecycle.shutdown(signal).then(
      () => {
        signalAll(descendantsOf(process.pid), 'SIGTERM');
        process.exit(code);
      },
      (err: unknown) => {
        console.error(err);
        signalAll(descendantsOf(process.pid), 'SIGTERM');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stopOn);
  process.on('SIGTERM', stopOn);
  // Registered first, so closed last; a stack still starting is stopped once it is up.
  const starting = startStack(options);
  lifecycle.onClose('infrastructure', async () => (await starting).stop());
  const stack = await starting;
  // Interrupted while starting: the handler stops the stack and exits; nothing runs on it.
  if (interrupted) await new Promise<never>(() => undefined);
  try {
    await bench(stack, lifecycle);
  } finally {
    // Interrupted: the same shutdown, whose handler above exits first.
    await lifecycle.shutdown('benchmark done');
    process.off('SIGINT', stopOn);
    process.off('SIGTERM', stopOn);
  }
}
