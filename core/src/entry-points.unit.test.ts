import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const IO_PACKAGES = ['fastify', 'kafkajs', 'pg'];

interface Loaded {
  /** Packages under node_modules whose files the process loaded. */
  packages: string[];
  exports: string[];
}

/**
 * Requires `specifier` the way a user of the package does (its package.json `exports`, the
 * built files) in a fresh Node process, and reports which packages that loaded
 * (require.cache) and what the entry point exports.
 */
function loadInFreshProcess(specifier: string): Loaded {
  const script = `
    const loaded = require(${JSON.stringify(specifier)});
    const packages = new Set();
    for (const file of Object.keys(require.cache)) {
      const match = /[\\\\/]node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/.exec(file);
      if (match) packages.add(match[1].replace(/\\\\/g, '/'));
    }
    process.stdout.write(JSON.stringify({ packages: [...packages].sort(), exports: Object.keys(loaded).sort() }));
  `;
  return JSON.parse(
    execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' }),
  );
}

describe('the entry points of @catchall/core', () => {
  beforeAll(() => {
    if (!existsSync(path.join(root, 'core', 'dist', 'domain', 'index.js'))) {
      throw new Error('core is not built: run `npx tsc -b` (npm test builds before it tests)');
    }
  });

  it('given a fresh process, when it requires @catchall/core/domain, then no fastify, kafkajs or pg is loaded', () => {
    const domain = loadInFreshProcess('@catchall/core/domain');
    expect(domain.packages.filter((p) => IO_PACKAGES.includes(p))).toEqual([]);
    // Stricter: the domain rules load no third-party package at all.
    expect(domain.packages).toEqual([]);
    expect(domain.exports).toEqual(
      expect.arrayContaining(['normalizeDomain', 'domainStatus', 'evolve', 'foldEvents']),
    );
  });

  it('given a fresh process, when it requires @catchall/core, then it sees the runtime loaded (the check can fail) and every domain export', () => {
    const whole = loadInFreshProcess('@catchall/core');
    const domain = loadInFreshProcess('@catchall/core/domain');
    expect(whole.packages).toEqual(expect.arrayContaining(IO_PACKAGES));
    expect(whole.exports).toEqual(expect.arrayContaining(domain.exports));
  });
});
