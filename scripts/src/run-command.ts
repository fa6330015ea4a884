import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Runs a tool to completion and returns its output. A failure says what ran and what the
 * tool printed (the first 8,000 characters); a missing tool says so and who needs it.
 */
export async function runCommand(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; neededFor?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const { stdout, stderr, code } = err as { stdout?: string; stderr?: string; code?: unknown };
    if (code === 'ENOENT') {
      throw new Error(
        `\`${command}\` is not installed${options.neededFor ? `; it is needed for ${options.neededFor}` : ''}`,
      );
    }
    throw new Error(
      `${command} ${args.join(' ')} failed:\n${(stdout ?? '') + (stderr ?? '')}`.slice(0, 8000),
    );
  }
}
