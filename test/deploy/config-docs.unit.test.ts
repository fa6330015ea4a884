import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configOf } from '../support/service-config';

const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
const section = readme.slice(
  readme.indexOf('## Configuration of the services'),
  readme.indexOf('\n## ', readme.indexOf('## Configuration of the services') + 1),
);

/** The README's configuration table: variable -> [default, services]. */
function table(): Map<string, { defaultText: string; services: string }> {
  const rows = new Map<string, { defaultText: string; services: string }>();
  for (const match of section.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \| ([^|]+) \|/gm)) {
    rows.set(match[1]!, { defaultText: match[2]!.trim(), services: match[3]!.trim() });
  }
  return rows;
}

describe('the configuration every program reads', () => {
  const rows = table();
  const programs = Object.entries(configOf).flatMap(([program, fields]) =>
    Object.entries(fields).map(([name, schema]) => ({ program, name, schema })),
  );

  it.each(programs)(
    'documents $name ($program) with its one default',
    ({ program, name, schema }) => {
      const row = rows.get(name);
      expect(row).toBeDefined();
      expect(row!.services === 'all' || row!.services.split(', ').includes(program)).toBe(true);
      const fallback = (schema as { default?: unknown }).default;
      expect(fallback).toBeDefined();
      if (fallback === '') expect(row!.defaultText).toMatch(/^empty/);
      else expect(row!.defaultText).toContain(String(fallback));
    },
  );

  it('lists no variable that no program reads', () => {
    const read = new Set(programs.map((p) => p.name));
    expect([...rows.keys()].filter((name) => !read.has(name))).toEqual([]);
  });
});
