import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { freePort } from '../../scripts/src/infra/ports';
import { waitFor } from './wait';

const ROOT = path.resolve(__dirname, '..', '..');

type ServiceName = 'producer-api' | 'consumer' | 'query-api';

export interface RunningService {
  name: string;
  url: string;
  child: ChildProcess;
  output(): string;
  /** Its exit code once it ended (null when a signal ended it). */
  exited: Promise<number | null>;
  /** SIGTERM (unless it ended already), then the exit code of the graceful shutdown. */
  stop(): Promise<number | null>;
}

/** Runs a service's compiled entry point as its own process, without waiting for anything. */
export function spawnServiceProcess(
  name: ServiceName,
  env: Record<string, string>,
  port: number,
): RunningService {
  const child = spawn(process.execPath, [path.join(ROOT, name, 'dist', 'main.js')], {
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: env.LOG_LEVEL ?? 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs a service's compiled entry point as its own process, as `npm start` does; ready. */
export async function spawnService(
  name: ServiceName,
  env: Record<string, string>,
): Promise<RunningService> {
  const service = spawnServiceProcess(name, env, await freePort());
  try {
    await waitFor(
      `${name} to be ready`,
      async () => {
        if (service.child.exitCode !== null) throw new Error(`${name} exited: ${service.output()}`);
        const response = await fetch(`${service.url}/readyz`);
        if (response.ok) return true;
        // What the service says is not ready, for the timeout's message.
        throw new Error(`/readyz ${response.status}: ${await response.text()}`);
      },
      { timeoutMs: 60000, intervalMs: 200 },
    );
  } catch (err) {
    // A service that never got ready: its own log says why (the tail of it, with the error).
    await service.stop();
    const log = service.output().slice(-4000);
    throw new Error(`${(err as Error).message}\n${name} log (tail):\n${log}`, { cause: err });
  }
  return service;
}

/** A request on a connection of its own, so that a cluster hands each to the next worker. */
export function requestOnNewConnection(method: string, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http
      .request(url, { method, agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url} in 5 s`)));
    request.end();
  });
}

/**
 * The ingest API, the projector and the query API, each its own process, all ready. When one
 * never gets ready, the others are stopped before the error is thrown: the caller has no
 * handle on them then, and they would outlive the run.
 */
export async function spawnAllServices(env: Record<string, string>): Promise<RunningService[]> {
  const started = await Promise.allSettled([
    spawnService('producer-api', env),
    spawnService('consumer', env),
    spawnService('query-api', env),
  ]);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed === undefined) {
    return started.map((s) => (s as PromiseFulfilledResult<RunningService>).value);
  }
  await Promise.all(started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.stop()] : [])));
  throw failed.reason;
}
