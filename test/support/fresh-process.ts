import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');

export interface Loaded {
  /** Packages under node_modules whose files the process loaded. */
  packages: string[];
  exports: string[];
}

/**
 * Requires `specifier` the way a user of the package does (its package.json `exports`, the
 * built files) in a fresh Node process, runs `then` (a statement using `loaded`), and
 * reports which packages that loaded (require.cache) and what the entry point exports.
 */
export function loadInFreshProcess(specifier: string, then = ''): Loaded {
  const script = `
    const loaded = require(${JSON.stringify(specifier)});
    ${then}
    const packages = new Set();
    for (const file of Object.keys(require.cache)) {
      const match = /[\\\\/]node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/.exec(file);
      if (match) packages.add(match[1].replace(/\\\\/g, '/'));
    }
    process.stdout.write(JSON.stringify({ packages: [...packages].sort(), exports: Object.keys(loaded).sort() }));
  `;
  return JSON.parse(
    execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' }),
  ) as Loaded;
}
