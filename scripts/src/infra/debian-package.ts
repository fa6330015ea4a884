import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { localDir } from './paths';

const run = promisify(execFile);

/**
 * A program of one of Debian's packages, fetched with `apt-get download` and unpacked with
 * `dpkg-deb -x` once into .local/dist/<package> (nothing is installed on the system):
 * the path of `binary` (relative to the package's root, as `usr/bin/promtool`). `apt-get
 * update` runs first when apt does not know the package yet (a fresh machine's empty
 * lists). The package's dependencies are not unpacked: they must be the system's, and a
 * missing library is named now rather than as a crash at start.
 */
export async function fetchDebianBinary(pkg: string, binary: string): Promise<string> {
  const dir = localDir('dist', pkg);
  const file = path.join(dir, 'root', binary);
  const marker = path.join(dir, '.complete');
  if (existsSync(marker)) return file;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    await run('apt-get', ['download', pkg], { cwd: dir });
  } catch {
    await run('apt-get', ['update'], { maxBuffer: 16 * 1024 * 1024 });
    await run('apt-get', ['download', pkg], { cwd: dir });
  }
  const deb = readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${pkg} left no ${pkg}_*.deb in ${dir}`);
  await run('dpkg-deb', ['-x', path.join(dir, deb), path.join(dir, 'root')]);
  const { stdout } = await run('ldd', [file]).catch((err: { stdout?: string; stderr?: string }) => {
    // A static binary: ldd says so and exits 1; it needs no library of the system.
    if (/not a dynamic executable/.test(`${err.stdout ?? ''}${err.stderr ?? ''}`)) {
      return { stdout: '' };
    }
    throw err;
  });
  const missing = stdout.split('\n').filter((line) => line.includes('not found'));
  if (missing.length > 0) {
    throw new Error(
      `${binary} of ${pkg} needs libraries this system lacks:\n${missing.join('\n')}`,
    );
  }
  writeFileSync(marker, new Date().toISOString());
  return file;
}
