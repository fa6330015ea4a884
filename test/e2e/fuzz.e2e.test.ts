import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectorEnv } from '../support/env';
import { encoderFor, produceMessages, toEvent } from '../support/events';
import { createTestTopic, type TestTopic } from '../support/kafka';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { spawnAllServices, type RunningService } from '../support/services';
import { waitFor } from '../support/wait';

const ROOT = path.join(__dirname, '..', '..');
const FUZZ = path.join(ROOT, 'test', 'fuzz');
/**
 * Installed by `npm test` (scripts/bootstrap.js) in a virtual environment of its own; run as
 * a module of its Python, since a script's `#!` line cannot hold a path with spaces.
 */
const PYTHON = path.join(ROOT, '.local', 'schemathesis', 'bin', 'python');
/** Test cases per operation and phase: about a minute for both APIs on two cores. */
const MAX_EXAMPLES = 50;
const RUN_TIMEOUT_MS = 240_000;
const PARTITIONS = [0, 1, 2];

/**
 * Runs schemathesis against a service's OpenAPI document with every check, positive and
 * negative data (settings in test/fuzz/<api>.toml); resolves with its exit code and output.
 */
function fuzz(
  api: 'ingest' | 'query',
  baseUrl: string,
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  // Its cache and reports go to a folder of the run's own, not into the repository.
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'catchall-fuzz-'));
  return new Promise<{ code: number; output: string }>((resolve, reject) => {
    const child = spawn(
      PYTHON,
      [
        '-m',
        'schemathesis.cli',
        '--config-file',
        path.join(FUZZ, `${api}.toml`),
        'run',
        `${baseUrl}/openapi.json`,
        '--max-examples',
        String(MAX_EXAMPLES),
        '--seed',
        process.env.CATCHALL_FUZZ_SEED ?? '1',
        '--request-timeout',
        '10',
        '--output-truncate',
        'true',
        '--no-color',
      ],
      {
        cwd,
        env: { ...process.env, ...env, PYTHONPATH: FUZZ, PYTHONDONTWRITEBYTECODE: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 1 : 0), output });
    });
  }).finally(() => rmSync(cwd, { recursive: true, force: true }));
}

describe('fuzzing both APIs from their OpenAPI documents (schemathesis)', () => {
  let topic: TestTopic;
  let db: TestDatabase;
  let services: RunningService[] = [];

  beforeAll(async () => {
    if (!existsSync(PYTHON)) {
      throw new Error(`schemathesis is not installed at ${PYTHON}: run the tests with npm test`);
    }
    topic = await createTestTopic(PARTITIONS.length);
    db = await createTestDatabase();
    const env = projectorEnv(topic.name, db.url);
    // The projector too: events the ingest run stores are then read back by the query run.
    services = await spawnAllServices(env);
    // Valid consistency tokens (the hooks' positive data) name offset 0 of each partition:
    // one record in each, applied before the run, so that they are answered without a 503.
    const encoder = await encoderFor(topic.name);
    await produceMessages(
      topic.name,
      PARTITIONS.map((partition) => ({
        partition,
        key: 'fuzz-seed.example',
        value: encoder.encode(toEvent({ domain: 'fuzz-seed.example', type: 'delivered' })),
      })),
    );
    const token = `${topic.name}:${PARTITIONS.map((p) => `${p}:0`).join(',')}`;
    await waitFor('the seed records to be applied', async () => {
      const response = await fetch(`${services[2]!.url}/domains/fuzz-seed.example`, {
        headers: { 'consistency-token': token },
      });
      return response.status === 200;
    });
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await db.drop();
    await topic.delete();
  });

  it.each([
    ['ingest', 0],
    ['query', 2],
  ] as const)(
    'answers every generated request of the %s API with a documented status and body, never 5xx',
    async (api, index) => {
      const { code, output } = await fuzz(api, services[index]!.url, {
        CATCHALL_FUZZ_TOPIC: topic.name,
        CATCHALL_FUZZ_APPLIED_PARTITIONS: PARTITIONS.join(','),
      });
      // The report (failures, how to reproduce them) is the message when the run fails.
      expect({ code, report: code === 0 ? '' : output }).toEqual({ code: 0, report: '' });
      expect(output).toMatch(/No issues found/);
    },
    RUN_TIMEOUT_MS + 30_000,
  );
});
