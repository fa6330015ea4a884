import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKafka, type RunningKafka } from '../../scripts/src/infra/kafka';
import { freePort } from '../../scripts/src/infra/ports';
import { startRegistry, type RunningRegistry } from '../../scripts/src/infra/registry';
import { testInfra, uniqueName } from '../support/env';
import { freeze } from '../support/freeze';
import { createTestTopic } from '../support/kafka';
import { createEmptyDatabase } from '../support/postgres';
import { spawnService, type RunningService } from '../support/services';
import { waitFor } from '../support/wait';

const infra = testInfra();

/** Short checks, so that the test sees them notice: an outage shows within 1.5 s. */
const CHECK_INTERVAL_MS = 500;
const CHECK_TIMEOUT_MS = 1000;
/** Beyond an interval and a deadline: the polling of this test and a loaded machine. */
const MARGIN_MS = 2500;

interface Readiness {
  status: number;
  checks: Record<string, { ok: boolean; error?: string }>;
  /** `catchall_readiness{check}` as scraped from /metrics. */
  gauge: Record<string, number>;
}

async function readiness(service: RunningService): Promise<Readiness> {
  const ready = await fetch(`${service.url}/readyz`, { signal: AbortSignal.timeout(2000) });
  const { checks } = (await ready.json()) as Pick<Readiness, 'checks'>;
  const metrics = await fetch(`${service.url}/metrics`, { signal: AbortSignal.timeout(2000) });
  const gauge: Record<string, number> = {};
  for (const [, check, value] of (await metrics.text()).matchAll(
    /^catchall_readiness\{check="(\w+)"[^}]*\} (\d+)$/gm,
  )) {
    gauge[check!] = Number(value);
  }
  return { status: ready.status, checks, gauge };
}

/** True once `check` fails in /readyz (503) and reads 0 in catchall_readiness. */
async function failing(service: RunningService, check: string): Promise<boolean> {
  const r = await readiness(service);
  return r.status === 503 && r.checks[check]?.ok === false && r.gauge[check] === 0;
}

/** True once every check passes in /readyz (200) and reads 1 in catchall_readiness. */
async function ready(service: RunningService): Promise<boolean> {
  const r = await readiness(service);
  return r.status === 200 && Object.values(r.gauge).every((v) => v === 1);
}

/** The ingest API and the projector on `topic`, with short dependency checks. */
async function startServices(env: Record<string, string>): Promise<RunningService[]> {
  const common = {
    ...env,
    DEPENDENCY_CHECK_INTERVAL_MS: String(CHECK_INTERVAL_MS),
    DEPENDENCY_CHECK_TIMEOUT_MS: String(CHECK_TIMEOUT_MS),
  };
  return Promise.all([
    spawnService('producer-api', common),
    spawnService('consumer', { ...common, CONSUMER_GROUP: uniqueName('projector') }),
  ]);
}

describe('readiness while a dependency stops answering and no traffic flows', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A folder of this test's own for a server's data, removed after the test. */
  function serverDir(prefix: string): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  it('given the Kafka broker frozen, then both services report kafka not ready within an interval and a deadline, and ready again once it runs', async () => {
    // A broker of this test's own: freezing it does not disturb the other tests.
    const kafka: RunningKafka = await startKafka({
      dir: serverDir('catchall-frozen-kafka-'),
      port: await freePort(),
      controllerPort: await freePort(),
      heapMb: 384,
    });
    cleanups.push(() => kafka.stop());
    const topic = await createTestTopic(2, kafka.brokers);
    const db = await createEmptyDatabase('readiness');
    cleanups.push(() => db.drop());
    const services = await startServices({
      KAFKA_BROKERS: kafka.brokers,
      SCHEMA_REGISTRY_URL: infra.registryUrl,
      DATABASE_URL: db.url,
      EVENTS_TOPIC: topic.name,
    });
    cleanups.push(async () => {
      await Promise.all(services.map((s) => s.stop()));
    });
    for (const service of services) expect(await ready(service)).toBe(true);

    const thaw = freeze(kafka.process);
    try {
      await waitFor(
        'kafka to be reported not ready by both services',
        async () => (await Promise.all(services.map((s) => failing(s, 'kafka')))).every(Boolean),
        { timeoutMs: CHECK_INTERVAL_MS + CHECK_TIMEOUT_MS + MARGIN_MS, intervalMs: 100 },
      );
      for (const service of services) {
        const { checks } = await readiness(service);
        expect(checks.kafka!.error).toMatch(/^Kafka: /);
      }
    } finally {
      thaw();
    }
    await waitFor(
      'both services to be ready again',
      async () => (await Promise.all(services.map(ready))).every(Boolean),
      { timeoutMs: 60000, intervalMs: 250 },
    );
  }, 180_000);

  it('given the schema registry frozen, then the projector reports schemaRegistry not ready within an interval and a deadline, and ready again once it runs', async () => {
    // A registry of this test's own: freezing it does not disturb the other tests.
    const registry: RunningRegistry = await startRegistry({
      dir: serverDir('catchall-frozen-registry-'),
      port: await freePort(),
    });
    cleanups.push(() => registry.stop());
    const topic = await createTestTopic(2);
    cleanups.push(() => topic.delete());
    const db = await createEmptyDatabase('readiness');
    cleanups.push(() => db.drop());
    const [producer, consumer] = await startServices({
      KAFKA_BROKERS: infra.brokers,
      SCHEMA_REGISTRY_URL: registry.url,
      DATABASE_URL: db.url,
      EVENTS_TOPIC: topic.name,
    });
    cleanups.push(async () => {
      await Promise.all([producer!.stop(), consumer!.stop()]);
    });
    expect(await ready(consumer!)).toBe(true);

    const thaw = freeze(registry.process);
    try {
      await waitFor(
        'schemaRegistry to be reported not ready by the projector',
        () => failing(consumer!, 'schemaRegistry'),
        { timeoutMs: CHECK_INTERVAL_MS + CHECK_TIMEOUT_MS + MARGIN_MS, intervalMs: 100 },
      );
      expect((await readiness(consumer!)).checks.schemaRegistry!.error).toMatch(
        /^schema registry: /,
      );
      // The ingest API encodes with the schema it registered at start: it needs no registry.
      expect(await ready(producer!)).toBe(true);
    } finally {
      thaw();
    }
    await waitFor('the projector to be ready again', () => ready(consumer!), {
      timeoutMs: 30000,
      intervalMs: 250,
    });
  }, 180_000);
});
