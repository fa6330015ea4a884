import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** SIGTERM to the whole process group, SIGKILL after the grace period. */
  stop(graceMs?: number): Promise<void>;
  exited(): boolean;
}

export class StartError extends Error {}

/** The last lines of a log, for an error that says why a part did not start. */
export function logTail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log written)';
  }
}

const running = new Set<ChildProcess>();

// A parent that exits for any reason takes its servers with it: no stray Java or Postgres.
process.on('exit', () => {
  for (const child of running) {
    killGroup(child.pid!, 'SIGKILL');
  }
});

/** Signals a process group; a group that is already gone (ESRCH) is what we wanted. */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but is not ours to signal; ESRCH: it is gone.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills what an earlier run that was itself killed left behind, found by its pid file. */
export function killStale(pidFile: string): void {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  if (pid > 0 && alive(pid)) killGroup(pid, 'SIGKILL');
  rmSync(pidFile, { force: true });
}

export async function startProcess(options: {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user (servers such as Postgres refuse to run as root). */
  user?: { uid: number; gid: number };
  /** The signal that asks for a clean, prompt stop (Postgres: SIGINT, its fast shutdown). */
  stopSignal?: NodeJS.Signals;
  logFile: string;
  pidFile?: string;
  /** Resolves true once the process serves; polled until `timeoutMs`. */
  ready: () => Promise<boolean>;
  timeoutMs: number;
}): Promise<ManagedProcess> {
  if (options.pidFile) killStale(options.pidFile);
  const log = openSync(options.logFile, 'a');
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', log, log],
    detached: true,
    ...options.user,
  });
  closeSync(log);
  let exitCode: number | null | undefined;
  const exit = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exitCode = code ?? (signal ? -1 : 0);
      running.delete(child);
      resolve();
    });
  });
  const spawnError = new Promise<never>((_, reject) => child.on('error', reject));
  running.add(child);
  if (options.pidFile) writeFileSync(options.pidFile, String(child.pid));

  const handle: ManagedProcess = {
    name: options.name,
    pid: child.pid!,
    logFile: options.logFile,
    exited: () => exitCode !== undefined,
    async stop(graceMs = 15000) {
      if (exitCode === undefined) {
        killGroup(child.pid!, options.stopSignal ?? 'SIGTERM');
        const timer = setTimeout(() => {
          if (exitCode === undefined) killGroup(child.pid!, 'SIGKILL');
        }, graceMs);
        await exit;
        clearTimeout(timer);
      }
      if (options.pidFile) rmSync(options.pidFile, { force: true });
    },
  };

  const deadline = Date.now() + options.timeoutMs;
  // Why the last readiness check failed, for the error when the deadline passes.
  let lastCheck = 'no check answered yet';
  const check = () =>
    options.ready().catch((err: unknown) => {
      lastCheck = err instanceof Error ? err.message : String(err);
      return false;
    });
  try {
    for (;;) {
      if (exitCode !== undefined) {
        throw new StartError(`${options.name} exited with code ${exitCode} while starting`);
      }
      if (await Promise.race([check(), spawnError])) return handle;
      if (Date.now() > deadline) {
        throw new StartError(
          `${options.name} was not ready within ${options.timeoutMs} ms (last check: ${lastCheck})`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    await handle.stop(2000);
    throw new StartError(
      `${(err as Error).message}\n--- last lines of ${options.logFile} ---\n${logTail(options.logFile)}`,
    );
  }
}
