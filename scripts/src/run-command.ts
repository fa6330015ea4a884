import { spawn } from 'node:child_process';

/** What runCommand is told besides the command and its arguments. */
export interface RunCommandOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Who needs the tool, named when it is not installed. */
  neededFor?: string;
  /**
   * Stops the command when aborted: it then runs in a process group of its own, which is
   * killed whole (SIGKILL), so that a tool's own children (a Go build's compilers) go too.
   * The promise rejects with `<command> was stopped`.
   */
  signal?: AbortSignal;
}

/** Signals a process group; a group that is already gone (ESRCH) is what we wanted. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** What a tool printed, kept up to this many characters per stream. */
const MAX_OUTPUT = 64 * 1024 * 1024;

/**
 * Runs a tool to completion and returns its output. A failure says what ran and what the
 * tool printed (the first 8,000 characters); a missing tool says so and who needs it.
 */
export async function runCommand(
  command: string,
  args: string[],
  options: RunCommandOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const { signal } = options;
  const stopped = () => new Error(`${command} was stopped`);
  if (signal?.aborted) throw stopped();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A group of its own only when it may be stopped: else a terminal's Ctrl-C reaches it.
    detached: signal !== undefined,
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (c: Buffer) => {
    if (output.stdout.length < MAX_OUTPUT) output.stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    if (output.stderr.length < MAX_OUTPUT) output.stderr += c.toString();
  });
  const onAbort = () => {
    if (child.pid !== undefined) killGroup(child.pid);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode) => resolve(exitCode));
    });
    if (signal?.aborted) throw stopped();
    if (code === 0) return output;
  } catch (err) {
    if (signal?.aborted) throw stopped();
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        `\`${command}\` is not installed${options.neededFor ? `; it is needed for ${options.neededFor}` : ''}`,
      );
    }
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  throw new Error(
    `${command} ${args.join(' ')} failed:\n${output.stdout + output.stderr}`.slice(0, 8000),
  );
}
