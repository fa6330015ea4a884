import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { configOf } from '../support/service-config';

const ROOT = path.resolve(__dirname, '..', '..');
const COMPOSE = path.join(ROOT, 'docker-compose.yml');

/** check-jsonschema with the Compose specification it vendors (installed by `npm test`). */
function validateCompose(file: string): { ok: boolean; output: string } {
  const result = spawnSync(
    'python3',
    ['-m', 'check_jsonschema', '--builtin-schema', 'vendor.compose-spec', file],
    { env: { ...process.env, PYTHONPATH: path.join(ROOT, '.local', 'python') }, encoding: 'utf8' },
  );
  if (result.error) throw result.error;
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification', () => {
    const { ok, output } = validateCompose(COMPOSE);
    expect(output).toMatch(/validation done/);
    expect(ok).toBe(true);
  });

  it('fails the same validation when broken (a wrong depends_on condition)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'compose-'));
    try {
      const broken = path.join(dir, 'docker-compose.yml');
      writeFileSync(
        broken,
        readFileSync(COMPOSE, 'utf8').replace(/service_healthy/g, 'healthy_please'),
      );
      const { ok, output } = validateCompose(broken);
      expect(ok).toBe(false);
      expect(output).toMatch(/healthy_please/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sets only variables that the service it configures reads', () => {
    const compose = parse(readFileSync(COMPOSE, 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, unknown> }>;
    };
    const unread: string[] = [];
    for (const [service, fields] of Object.entries(configOf)) {
      const environment = compose.services[service]?.environment ?? {};
      expect(Object.keys(environment).length).toBeGreaterThan(0);
      for (const name of Object.keys(environment)) {
        if (!(name in fields)) unread.push(`${service}: ${name}`);
      }
    }
    expect(unread).toEqual([]);
  });
});
