import { freePort } from '../../scripts/src/infra/ports';
import { testInfra } from '../support/env';
import { createTestTopic, type TestTopic } from '../support/kafka';
import {
  requestOnNewConnection,
  spawnServiceProcess,
  type RunningService,
} from '../support/services';
import { waitFor } from '../support/wait';

describe('the ingest API in several processes (WORKERS=2)', () => {
  let topic: TestTopic;
  /** Every service a test started: stopped after the tests, whether they passed or not. */
  const started: RunningService[] = [];

  async function startWorkers(registryUrl: string): Promise<RunningService> {
    const env = {
      WORKERS: '2',
      KAFKA_BROKERS: testInfra().brokers,
      SCHEMA_REGISTRY_URL: registryUrl,
      EVENTS_TOPIC: topic.name,
    };
    const service = spawnServiceProcess('producer-api', env, await freePort());
    started.push(service);
    return service;
  }
  /** A registry address where nothing listens. */
  const noRegistry = async () => `http://127.0.0.1:${await freePort()}`;

  beforeAll(async () => {
    topic = await createTestTopic(3);
  });
  afterAll(async () => {
    await Promise.all(started.map((service) => service.stop()));
    await topic.delete();
  });

  it('takes no connection before it can publish: from the first one on, every PUT is accepted', async () => {
    const service = await startWorkers(testInfra().registryUrl);
    const statuses: number[] = [];
    // From the first moment the port takes connections: a worker listening before its schema
    // is registered would answer 503 here.
    await waitFor(
      '20 answers',
      async () => {
        if (service.child.exitCode !== null) throw new Error(`exited: ${service.output()}`);
        const url = `${service.url}/events/w${statuses.length}.workers.example/delivered`;
        statuses.push(await requestOnNewConnection('PUT', url));
        return statuses.length >= 20;
      },
      { timeoutMs: 60000, intervalMs: 5 },
    );
    expect(statuses).toEqual(Array(20).fill(202));
    expect(await service.stop()).toBe(0);
  });

  it('stops with exit 0 on SIGTERM while its workers still wait for the registry', async () => {
    const service = await startWorkers(await noRegistry());
    // Two processes waiting (a worker retries more than once: counting lines is not enough),
    // both past their start-up and so with their signal handlers.
    const waiting = () =>
      new Set(
        [...service.output().matchAll(/"pid":(\d+)[^\n]*event schema not ready; retrying/g)].map(
          (m) => m[1],
        ),
      );
    await waitFor('both workers to wait for the registry', () =>
      waiting().size >= 2 ? true : undefined,
    );
    expect(await service.stop()).toBe(0);
    // Both workers and the primary.
    expect(service.output().match(/"msg":"stopped"/g)).toHaveLength(3);
  });

  it('listens after 5 s without a registry, and /readyz says what is missing', async () => {
    const service = await startWorkers(await noRegistry());
    const readyz = await waitFor(
      'an answer on /readyz',
      async () => {
        if (service.child.exitCode !== null) throw new Error(`exited: ${service.output()}`);
        const res = await fetch(`${service.url}/readyz`);
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      },
      { timeoutMs: 30000, intervalMs: 200 },
    );
    expect(readyz.status).toBe(503);
    expect(readyz.body).toMatchObject({ checks: { schemaRegistry: { ok: false } } });
    expect(service.output()).toContain('event schema not ready; retrying');
    expect(await service.stop()).toBe(0);
  });
});
