import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { descendants, stillRunning, type ProcessInfo } from '../support/processes';
import { waitFor } from '../support/wait';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * A benchmark in miniature on the benchmarks' own withStack (compiled, as `npm run bench:*`
 * runs it): the stack, a service the lifecycle stops, and a process it knows nothing of (as a
 * load generator is), then it waits to be interrupted.
 */
const BENCH = `
const { spawn } = require('node:child_process');
const { withStack, startService } = require(${JSON.stringify(path.join(ROOT, 'bench', 'dist', 'lib', 'stack.js'))});
withStack({}, async (infra, lifecycle) => {
  const server = await startService('bare fastify', {});
  lifecycle.onClose('bare fastify', () => server.stop());
  spawn('sleep', ['600'], { stdio: 'ignore' });
  console.log('BENCH RUNNING');
  await new Promise(() => undefined);
}).catch((err) => {
  console.error(err);
  process.exit(1);
});
`;

describe('a benchmark interrupted by a signal to its own process alone', () => {
  let dir = '';
  /** Each case's benchmark and what it started, for afterAll to kill whatever is left. */
  const benches: ChildProcess[] = [];
  const started: ProcessInfo[] = [];

  beforeAll(() => {
    execFileSync(
      process.execPath,
      [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'bench'],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
    dir = mkdtempSync(path.join(os.tmpdir(), 'bench-interrupt-'));
    writeFileSync(path.join(dir, 'bench.js'), BENCH);
  });

  afterAll(() => {
    // Whatever the test left running is killed here, so that a failure strands nothing.
    for (const p of stillRunning(started.map((s) => s.pid))) process.kill(p.pid, 'SIGKILL');
    for (const b of benches) if (b.exitCode === null && b.signalCode === null) b.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'given the stack, a service and a load generator running, when it gets %s, then it stops every one of them and exits 128 + the signal number',
    async (signal) => {
      const child = spawn(process.execPath, [path.join(dir, 'bench.js')], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      benches.push(child);
      let output = '';
      child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      await waitFor('the benchmark to run', () => output.includes('BENCH RUNNING'), {
        timeoutMs: 120_000,
        intervalMs: 200,
      });
      const running = descendants(child.pid!);
      started.push(...running);
      const commands = running.map((p) => p.command);
      expect(commands.filter((c) => c === 'java').length).toBeGreaterThanOrEqual(2);
      expect(commands).toContain('postgres');
      expect(commands).toContain('sleep');
      // The bare fastify server is a node process of its own.
      expect(commands).toContain('node');

      child.kill(signal);
      const code = await exited;
      expect({ code, output }).toMatchObject({
        code: 128 + os.constants.signals[signal],
        output: expect.stringContaining(`${signal}: stopping what was started`),
      });
      const left = await waitFor(
        'every process the benchmark started to be gone',
        () => {
          const left = stillRunning(running.map((p) => p.pid));
          return left.length === 0 ? left : undefined;
        },
        { timeoutMs: 10_000 },
      );
      expect(left).toEqual([]);
    },
    240_000,
  );
});
