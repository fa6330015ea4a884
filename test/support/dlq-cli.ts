import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './wait';

const run = promisify(execFile);
const CLI = path.resolve(__dirname, '..', '..', 'consumer', 'dist', 'dlq-cli.js');

/** What a run of the dlq command gave: exit code, output, and its JSON lines parsed. */
export interface DlqRun {
  code: number;
  stdout: string;
  stderr: string;
  lines: Record<string, unknown>[];
}

const parsed = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/**
 * The environment of a run: this process's, with `env` over it (a variable `undefined` in
 * `env` is left out, as for an operator who did not set it) and LOG_LEVEL info.
 */
function runEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env, LOG_LEVEL: 'info' };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete merged[name];
  return merged;
}

/** The dlq command as an operator runs it: its own process, no terminal (JSON lines). */
export async function dlq(
  env: Record<string, string | undefined>,
  ...args: string[]
): Promise<DlqRun> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: runEnv(env) });
    return { code: 0, stdout, stderr, lines: parsed(stdout) };
  } catch (err) {
    const { code, stdout, stderr } = err as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr, lines: parsed(stdout) };
  }
}

/**
 * `npm run -s dlq -- <args>` from the repository's root, as the README says to run it when
 * its output is piped (npm builds first, then runs the same command).
 */
export async function npmRunDlq(
  env: Record<string, string | undefined>,
  ...args: string[]
): Promise<DlqRun> {
  const root = path.resolve(__dirname, '..', '..');
  try {
    const { stdout, stderr } = await run('npm', ['run', '-s', 'dlq', '--', ...args], {
      cwd: root,
      env: runEnv(env),
    });
    return { code: 0, stdout, stderr, lines: parsed(stdout) };
  } catch (err) {
    const { code, stdout, stderr } = err as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr, lines: parsed(stdout) };
  }
}

/**
 * Runs the dlq command and kills it (SIGKILL) as soon as its stderr shows `marker`: a crash
 * at that point, before it exits. Resolves once the process is gone, with what it wrote.
 */
export async function dlqKilledAt(
  env: Record<string, string>,
  marker: RegExp,
  ...args: string[]
): Promise<{ stderr: string; signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: runEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (marker.test(stderr)) child.kill('SIGKILL');
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  await waitFor(
    'the dlq command to reach the marker or exit',
    () => child.exitCode !== null || child.signalCode !== null || marker.test(stderr),
    { timeoutMs: 120000 },
  );
  return { stderr, signal: await exited };
}
