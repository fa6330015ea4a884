import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../scripts/src/infra/ports';
import { waitFor } from './wait';

const ROOT = path.resolve(__dirname, '..', '..');

export interface RunningService {
  name: string;
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM, then the exit code of the graceful shutdown. */
  stop(): Promise<number | null>;
}

/** Runs a service's compiled entry point as its own process, as `npm start` does. */
export async function spawnService(
  name: 'producer-api' | 'consumer' | 'query-api',
  env: Record<string, string>,
): Promise<RunningService> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, name, 'dist', 'main.js')], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `${name} to be ready`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited: ${output}`);
      return (await fetch(`${url}/readyz`)).ok;
    },
    { timeoutMs: 60000, intervalMs: 200 },
  );
  return {
    name,
    url,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
