import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { descendants, stillRunning, type ProcessInfo } from '../support/processes';
import { waitFor } from '../support/wait';

const ROOT = path.resolve(__dirname, '..', '..');
const EXIT_TIMEOUT_MS = 60_000;

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

interface Run {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code; rejects when the process has not exited within EXIT_TIMEOUT_MS. */
  exit(): Promise<number | null>;
}

describe('a benchmark interrupted by a signal to its own process alone', () => {
  let dir = '';
  /** Each case's benchmark, for afterAll to kill with what it started when a case failed. */
  const runs: ChildProcess[] = [];

  beforeAll(() => {
    execFileSync(
      process.execPath,
      [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'bench'],
      { cwd: ROOT, stdio: 'inherit' },
    );
    dir = mkdtempSync(path.join(os.tmpdir(), 'bench-interrupt-'));
    // The stack's folders go below it: Postgres, run as another user when we are root, needs
    // to pass through.
    chmodSync(dir, 0o755);
    writeFileSync(path.join(dir, 'bench.js'), BENCH);
  });

  afterAll(() => {
    for (const b of runs) {
      if (b.exitCode !== null || b.signalCode !== null) continue;
      // Kafka, the registry and Postgres run in process groups of their own: each is killed.
      for (const p of descendants(b.pid!)) process.kill(p.pid, 'SIGKILL');
      b.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the benchmark with its stack's folders in this test's own temporary folder. */
  function runBench(): Run {
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: dir };
    // Its own Postgres, as a benchmark without one given starts.
    delete env.DATABASE_URL;
    const child = spawn(process.execPath, [path.join(dir, 'bench.js')], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    runs.push(child);
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    return {
      child,
      output: () => output,
      exit: () =>
        Promise.race([
          exited,
          new Promise<never>((_, reject) =>
            setTimeout(
              () => reject(new Error(`the benchmark did not exit:\n${output}`)),
              EXIT_TIMEOUT_MS,
            ).unref(),
          ),
        ]),
    };
  }

  /** Waits until every process of `started` is gone, and gives what is left (none). */
  function gone(started: ProcessInfo[]): Promise<ProcessInfo[]> {
    return waitFor(
      'every process the benchmark started to be gone',
      () => {
        const left = stillRunning(started.map((p) => p.pid));
        return left.length === 0 ? left : undefined;
      },
      { timeoutMs: 10_000 },
    );
  }

  /** Waits until `ready`; fails, with the benchmark's output, when it exited first or timed out. */
  async function until(run: Run, what: string, ready: () => boolean): Promise<void> {
    await waitFor(what, () => run.child.exitCode !== null || ready(), {
      timeoutMs: 120_000,
      intervalMs: 50,
    }).catch((err: Error) => {
      throw new Error(`${err.message}; the benchmark's output:\n${run.output()}`);
    });
    expect({ exitCode: run.child.exitCode, output: run.output() }).toMatchObject({
      exitCode: null,
    });
  }

  /** Waits for the benchmark to run, and gives what it started by then. */
  async function running(run: Run): Promise<ProcessInfo[]> {
    await until(run, 'the benchmark to run', () => run.output().includes('BENCH RUNNING'));
    const started = descendants(run.child.pid!);
    const commands = started.map((p) => p.command);
    expect(commands.filter((c) => c === 'java').length).toBeGreaterThanOrEqual(2);
    expect(commands).toContain('postgres');
    expect(commands).toContain('sleep');
    // The bare fastify server is a node process of its own.
    expect(commands).toContain('node');
    return started;
  }

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'given the stack, a service and a load generator running, when it gets %s, then it stops every one of them and exits 128 + the signal number',
    async (signal) => {
      const run = runBench();
      const started = await running(run);

      run.child.kill(signal);

      expect({ code: await run.exit(), output: run.output() }).toMatchObject({
        code: 128 + os.constants.signals[signal],
        output: expect.stringContaining(`${signal}: stopping what was started`),
      });
      expect(await gone(started)).toEqual([]);
    },
    240_000,
  );

  it('given the stack still starting, when it gets SIGTERM, then the benchmark never runs, and what was started is stopped', async () => {
    const run = runBench();
    // Postgres is the first part up; Kafka and the registry take seconds more.
    await until(run, 'Postgres to start', () =>
      descendants(run.child.pid!).some((p) => p.command === 'postgres'),
    );
    // Every process it starts from here on, read until it exits.
    const seen = new Map<number, ProcessInfo>();
    const record = () => {
      for (const p of descendants(run.child.pid!)) seen.set(p.pid, p);
    };
    record();
    const watching = setInterval(record, 50);

    run.child.kill('SIGTERM');

    const code = await run.exit().finally(() => clearInterval(watching));
    expect(code).toBe(128 + os.constants.signals.SIGTERM);
    expect(run.output()).not.toContain('BENCH RUNNING');
    // It waited for the stack to be up, then stopped it: Kafka was started, and is gone.
    expect(run.output()).toContain('stopping kafka');
    expect([...seen.values()].map((p) => p.command)).toContain('java');
    expect(await gone([...seen.values()])).toEqual([]);
  }, 240_000);

  it('given a first SIGTERM, when a second one comes, then every process is killed at once', async () => {
    const run = runBench();
    const started = await running(run);

    run.child.kill('SIGTERM');
    await waitFor('the first signal to be taken', () =>
      run.output().includes('SIGTERM: stopping what was started'),
    );
    run.child.kill('SIGTERM');

    expect({ code: await run.exit(), output: run.output() }).toMatchObject({
      code: 128 + os.constants.signals.SIGTERM,
      output: expect.stringContaining('SIGTERM again: killing every process this one started'),
    });
    expect(await gone(started)).toEqual([]);
  }, 240_000);
});
