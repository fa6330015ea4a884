import path from 'node:path';

/** The repository's root: scripts/dist/infra -> three levels up. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** Fetched distributions, data and logs of local runs; ignored by git. */
export function localDir(...parts: string[]): string {
  return path.join(process.env.CATCHALL_LOCAL_DIR ?? path.join(REPO_ROOT, '.local'), ...parts);
}

export const MAVEN_DIR = path.join(REPO_ROOT, 'scripts', 'maven');
