import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { freePort } from '../../scripts/src/infra/ports';
import { testInfra } from '../support/env';
import { createTestTopic, type TestTopic } from '../support/kafka';
import { waitFor } from '../support/wait';

const MAIN = path.resolve(__dirname, '..', '..', 'producer-api', 'dist', 'main.js');

/** A request on a connection of its own, so that the cluster hands each to the next worker. */
function onNewConnection(method: string, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http
      .request(url, { method, agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url} in 5 s`)));
    request.end();
  });
}

/** Every service a test started: stopped after the tests, whether they passed or not. */
const started: ChildProcess[] = [];

function startWorkers(env: Record<string, string>, port: number) {
  let output = '';
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, WORKERS: '2', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output };
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  return exited;
}

describe('the ingest API in several processes (WORKERS=2)', () => {
  let topic: TestTopic;

  beforeAll(async () => {
    topic = await createTestTopic(3);
  });
  afterAll(async () => {
    await Promise.all(started.map(stop));
    await topic.delete();
  });

  it('takes no connection before it can publish: from the first one on, every PUT is accepted', async () => {
    const infra = testInfra();
    const port = await freePort();
    const service = startWorkers(
      {
        KAFKA_BROKERS: infra.brokers,
        SCHEMA_REGISTRY_URL: infra.registryUrl,
        EVENTS_TOPIC: topic.name,
        LOG_LEVEL: 'info',
      },
      port,
    );
    const statuses: number[] = [];
    // From the first moment the port takes connections: a worker listening before its schema
    // is registered would answer 503 here.
    await waitFor(
      '20 answers',
      async () => {
        if (service.child.exitCode !== null) throw new Error(`exited: ${service.output()}`);
        const url = `http://127.0.0.1:${port}/events/w${statuses.length}.workers.example/delivered`;
        statuses.push(await onNewConnection('PUT', url));
        return statuses.length >= 20;
      },
      { timeoutMs: 60000, intervalMs: 5 },
    );
    expect(statuses).toEqual(Array(20).fill(202));
    expect(await stop(service.child)).toBe(0);
  });

  it('stops with exit 0 on SIGTERM while its workers still wait for the registry', async () => {
    const infra = testInfra();
    const service = startWorkers(
      {
        KAFKA_BROKERS: infra.brokers,
        SCHEMA_REGISTRY_URL: `http://127.0.0.1:${await freePort()}`,
        EVENTS_TOPIC: topic.name,
        LOG_LEVEL: 'info',
      },
      await freePort(),
    );
    await waitFor('both workers to wait for the registry', () =>
      (service.output().match(/event schema not ready; retrying/g) ?? []).length >= 2
        ? true
        : undefined,
    );
    expect(await stop(service.child)).toBe(0);
    // Both workers and the primary.
    expect(service.output().match(/"msg":"stopped"/g)).toHaveLength(3);
  });

  it('listens after 5 s without a registry, and /readyz says what is missing', async () => {
    const infra = testInfra();
    const port = await freePort();
    const service = startWorkers(
      {
        KAFKA_BROKERS: infra.brokers,
        SCHEMA_REGISTRY_URL: `http://127.0.0.1:${await freePort()}`,
        EVENTS_TOPIC: topic.name,
        LOG_LEVEL: 'info',
      },
      port,
    );
    const readyz = await waitFor(
      'an answer on /readyz',
      async () => {
        if (service.child.exitCode !== null) throw new Error(`exited: ${service.output()}`);
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      },
      { timeoutMs: 30000, intervalMs: 200 },
    );
    expect(readyz.status).toBe(503);
    expect(readyz.body).toMatchObject({ checks: { schemaRegistry: { ok: false } } });
    expect(service.output()).toContain('event schema not ready; retrying');
    expect(await stop(service.child)).toBe(0);
  });
});
