import { lstatSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

/** The repository's root: scripts/dist/infra -> three levels up. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** Fetched distributions, data and logs of local runs; ignored by git. */
export function localDir(...parts: string[]): string {
  return path.join(process.env.CATCHALL_LOCAL_DIR ?? path.join(REPO_ROOT, '.local'), ...parts);
}

export const MAVEN_DIR = path.join(REPO_ROOT, 'scripts', 'maven');

/**
 * A folder of ours at a known path in a folder every user may write to (the system's
 * temporary folder): used as it is only when it is a real folder (not a symbolic link),
 * owned by this process's user and writable by no one else; anything else there (left by
 * another user to plant programs or links we would run or follow) is removed first.
 * Returns true when the folder was kept, false when it was made anew (mode 0755).
 */
export function ownFolder(dir: string): boolean {
  let stat;
  try {
    stat = lstatSync(dir);
  } catch {
    stat = undefined;
  }
  const uid = process.getuid?.();
  const ours =
    stat !== undefined &&
    stat.isDirectory() &&
    (uid === undefined || stat.uid === uid) &&
    (stat.mode & 0o022) === 0;
  if (ours) return true;
  if (stat !== undefined) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return false;
}
