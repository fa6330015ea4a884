import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MIGRATION_LOCK_KEY, knownMigrations } from './migrate';

/**
 * The advisory lock key a node-pg-migrate build takes: the constant its lock query
 * (`pg_try_advisory_lock(${NAME})`) interpolates, or undefined when the query is not written
 * that way any more (a change to look at by hand).
 */
function lockKeyOf(source: string): string | undefined {
  const query = /pg_try_advisory_lock\(\$\{(\w+)\}\)/.exec(source);
  if (!query) return undefined;
  return new RegExp(`\\b${query[1]}\\s*=\\s*(\\d+)\\s*;`).exec(source)?.[1];
}

/** The installed node-pg-migrate's builds that take the lock: CommonJS and ESM (the CLI's). */
const builds = ['dist/runner.js', 'dist/esm/index.mjs'].map((file) => {
  const root = path.dirname(require.resolve('node-pg-migrate/package.json'));
  return { file, source: readFileSync(path.join(root, file), 'utf8') };
});

describe('the migration lock', () => {
  it.each(builds.map((b) => [b.file, b.source]))(
    "is node-pg-migrate's own key in the installed %s, so that a hand-run node-pg-migrate up waits for us and we for it",
    (_file, source) => {
      expect(lockKeyOf(source)).toBe(MIGRATION_LOCK_KEY);
    },
  );

  it('would tell a library whose key differs, or whose lock query reads otherwise', () => {
    const source = builds[0]!.source;
    expect(lockKeyOf(source.replace(/(PG_MIGRATE_LOCK_ID = )\d+/, '$1123'))).toBe('123');
    expect(
      lockKeyOf(source.replace(/pg_try_advisory_lock\([^)]*\)/, 'pg_try_advisory_lock(42)')),
    ).toBeUndefined();
  });
});

describe('the migrations this build carries', () => {
  it('are named as node-pg-migrate records them: file names without extension, in order', () => {
    const names = knownMigrations();
    expect(names[0]).toBe('1700000000000_read-model');
    expect(names).toContain('1700000000006_redriven-origins');
    expect(names.at(-1)).toBe('1700000000009_event-ids-version-index');
    expect([...names].sort()).toEqual(names);
  });
});
