import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKafka, type RunningKafka } from '../../scripts/src/infra/kafka';
import { freePort } from '../../scripts/src/infra/ports';
import { startPostgres, type RunningPostgres } from '../../scripts/src/infra/postgres';
import { startRegistry, type RunningRegistry } from '../../scripts/src/infra/registry';
import { testInfra, uniqueName } from '../support/env';
import { freeze } from '../support/freeze';
import { createTestTopic, readAll } from '../support/kafka';
import { createEmptyDatabase } from '../support/postgres';
import { spawnService, type RunningService } from '../support/services';
import { waitFor } from '../support/wait';

const infra = testInfra();

/** Short checks, so that the test sees them notice: an outage shows within 1.5 s. */
const CHECK_INTERVAL_MS = 500;
const CHECK_TIMEOUT_MS = 1000;
/** Beyond an interval and a deadline: the polling of this test and a loaded machine. */
const MARGIN_MS = 2500;
/**
 * The longest a /readyz or /metrics answer may take while a dependency hangs: they read the
 * last outcome of a background check, so they never wait on the dependency. A correctness
 * bound (a scrape that outlasts its interval loses the target), not a speed target.
 */
const ANSWER_BOUND_MS = 1500;

interface Readiness {
  status: number;
  checks: Record<string, { ok: boolean; error?: string }>;
  /** `catchall_readiness{check}` as scraped from /metrics. */
  gauge: Record<string, number>;
  /** How long each answer took, in milliseconds, from the request to the whole body. */
  tookMs: { readyz: number; metrics: number };
}

async function readiness(service: RunningService): Promise<Readiness> {
  // Past the bound, so that an answer that is only slow shows its duration, not an abort.
  const signal = () => AbortSignal.timeout(10000);
  let start = performance.now();
  const ready = await fetch(`${service.url}/readyz`, { signal: signal() });
  const { checks } = (await ready.json()) as Pick<Readiness, 'checks'>;
  const readyz = performance.now() - start;
  start = performance.now();
  const metrics = await fetch(`${service.url}/metrics`, { signal: signal() });
  const text = await metrics.text();
  const tookMs = { readyz, metrics: performance.now() - start };
  const gauge: Record<string, number> = {};
  for (const [, check, value] of text.matchAll(
    /^catchall_readiness\{check="(\w+)"[^}]*\} (\d+)$/gm,
  )) {
    gauge[check!] = Number(value);
  }
  return { status: ready.status, checks, gauge, tookMs };
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

  it('given Postgres frozen, then the projector and the query API answer /readyz and /metrics at once, report postgres not ready within an interval and a deadline, and are ready again once it runs', async () => {
    // A Postgres of this test's own: freezing it does not disturb the other tests. As root
    // the server runs as `postgres`, which must be able to enter its folder.
    const dir = serverDir('catchall-frozen-postgres-');
    chmodSync(dir, 0o755);
    const postgres: RunningPostgres = await startPostgres({
      dataDir: path.join(dir, 'data'),
      logFile: path.join(dir, 'postgres.log'),
      port: await freePort(),
      sharedBuffers: '32MB',
      unsafeFast: true,
    });
    cleanups.push(() => postgres.stop());
    await postgres.createDatabase('catchall');
    const topic = await createTestTopic(2);
    cleanups.push(() => topic.delete());
    const common = {
      KAFKA_BROKERS: infra.brokers,
      SCHEMA_REGISTRY_URL: infra.registryUrl,
      DATABASE_URL: postgres.urlFor('catchall'),
      EVENTS_TOPIC: topic.name,
      DEPENDENCY_CHECK_INTERVAL_MS: String(CHECK_INTERVAL_MS),
      DEPENDENCY_CHECK_TIMEOUT_MS: String(CHECK_TIMEOUT_MS),
    };
    // The projector migrates the read model the query API reads.
    const consumer = await spawnService('consumer', {
      ...common,
      CONSUMER_GROUP: uniqueName('projector'),
    });
    cleanups.push(async () => void (await consumer.stop()));
    // Two workers: each answers /readyz from a check of its own, and /metrics asks both.
    const query = await spawnService('query-api', { ...common, WORKERS: '2' });
    cleanups.push(async () => void (await query.stop()));
    const services = [consumer, query];
    for (const service of services) expect(await ready(service)).toBe(true);

    const thaw = freeze(postgres.process!);
    try {
      const answers: { service: string; tookMs: Readiness['tookMs'] }[] = [];
      const failingFast = async (service: RunningService) => {
        const r = await readiness(service);
        answers.push({ service: service.name, tookMs: r.tookMs });
        return r.status === 503 && r.checks.postgres?.ok === false && r.gauge.postgres === 0;
      };
      await waitFor(
        'postgres to be reported not ready by the projector and the query API',
        async () => (await Promise.all(services.map(failingFast))).every(Boolean),
        { timeoutMs: CHECK_INTERVAL_MS + CHECK_TIMEOUT_MS + MARGIN_MS, intervalMs: 100 },
      );
      // Still frozen: every answer keeps within the bound, the first ones as the later ones.
      for (let round = 0; round < 3; round += 1) {
        for (const service of services) {
          const r = await readiness(service);
          answers.push({ service: service.name, tookMs: r.tookMs });
          expect(r.status).toBe(503);
          expect(r.checks.postgres!.error).toMatch(/^Postgres: /);
          expect(r.gauge.postgres).toBe(0);
        }
      }
      const slow = answers.filter(
        (a) => a.tookMs.readyz >= ANSWER_BOUND_MS || a.tookMs.metrics >= ANSWER_BOUND_MS,
      );
      expect(slow).toEqual([]);
    } finally {
      thaw();
    }
    await waitFor(
      'the projector and the query API to be ready again',
      async () => (await Promise.all(services.map(ready))).every(Boolean),
      { timeoutMs: 30000, intervalMs: 250 },
    );
  }, 180_000);
});

/** The ingest API's acknowledgement timeout in the fail-fast test: the default. */
const ACK_TIMEOUT_MS = 10_000;
/** "At once": well under ACK_TIMEOUT_MS, with room for a loaded machine. */
const AT_ONCE_MS = 2000;

interface IngestAnswer {
  status: number;
  retryAfter: string | null;
  body: { code?: string; message?: string };
  /** Milliseconds from sending the request to its whole answer. */
  ms: number;
}

/** An ingest request on `service`, timed; a JSON body when `body` is given. */
async function ingest(
  service: RunningService,
  method: 'PUT' | 'POST',
  route: string,
  body?: unknown,
): Promise<IngestAnswer> {
  const start = Date.now();
  const answer = await fetch(`${service.url}${route}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(ACK_TIMEOUT_MS + 5000),
  });
  const json = (await answer.json()) as IngestAnswer['body'];
  return {
    status: answer.status,
    retryAfter: answer.headers.get('retry-after'),
    body: json,
    ms: Date.now() - start,
  };
}

describe('ingest while Kafka stops answering', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('given the Kafka broker frozen, the check failed and a produce request timed out, then PUT and POST /events are refused 503 CATCHALL_UNAVAILABLE at once, and accepted again once it runs, every accepted event in the topic', async () => {
    // A broker of this test's own: freezing it does not disturb the other tests.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'catchall-failfast-kafka-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const kafka: RunningKafka = await startKafka({
      dir,
      port: await freePort(),
      controllerPort: await freePort(),
      heapMb: 384,
    });
    cleanups.push(() => kafka.stop());
    const topic = await createTestTopic(2, kafka.brokers);
    const producer = await spawnService('producer-api', {
      KAFKA_BROKERS: kafka.brokers,
      SCHEMA_REGISTRY_URL: infra.registryUrl,
      EVENTS_TOPIC: topic.name,
      DEPENDENCY_CHECK_INTERVAL_MS: String(CHECK_INTERVAL_MS),
      DEPENDENCY_CHECK_TIMEOUT_MS: String(CHECK_TIMEOUT_MS),
      PRODUCE_ACK_TIMEOUT_MS: String(ACK_TIMEOUT_MS),
    });
    cleanups.push(async () => {
      await producer.stop();
    });
    const domain = (name: string) => `${uniqueName(name)}.example`;
    /** Every domain whose event was answered 202: each must be in the topic. */
    const accepted: string[] = [];
    /** Every domain of a request refused at once: none may be in the topic. */
    const refused: string[] = [];

    const before = domain('before');
    expect((await ingest(producer, 'PUT', `/events/${before}/delivered`)).status).toBe(202);
    accepted.push(before);

    const thaw = freeze(kafka.process);
    try {
      await waitFor('kafka to be reported not ready', () => failing(producer, 'kafka'), {
        timeoutMs: CHECK_INTERVAL_MS + CHECK_TIMEOUT_MS + MARGIN_MS,
        intervalMs: 100,
      });
      // The first request after the freeze waits for Kafka: nothing has failed to produce yet.
      const first = await ingest(producer, 'PUT', `/events/${domain('first')}/delivered`);
      expect(first.status).toBe(503);

      const put = domain('put');
      const post = domain('post');
      refused.push(put, post);
      const answers = [
        await ingest(producer, 'PUT', `/events/${put}/bounced`),
        await ingest(producer, 'POST', '/events', [{ domain: post, type: 'delivered' }]),
      ];
      for (const answer of answers) {
        // Before the refusal, these waited ACK_TIMEOUT_MS for a 503 CATCHALL_TIMEOUT.
        expect(answer.ms).toBeLessThan(AT_ONCE_MS);
        expect(answer).toMatchObject({
          status: 503,
          retryAfter: expect.stringMatching(/^\d+$/),
          body: { code: 'CATCHALL_UNAVAILABLE', message: expect.stringMatching(/^Kafka /) },
        });
      }
      const metrics = await (await fetch(`${producer.url}/metrics`)).text();
      expect(
        Number(
          /^catchall_events_rejected_total\{[^}]*reason="CATCHALL_UNAVAILABLE"[^}]*\} (\d+)$/m.exec(
            metrics,
          )?.[1],
        ),
      ).toBeGreaterThanOrEqual(2);
    } finally {
      thaw();
    }

    // Accepted again once the check sees Kafka answer: each try a new event.
    await waitFor(
      'a PUT to be accepted again',
      async () => {
        const again = domain('after');
        const answer = await ingest(producer, 'PUT', `/events/${again}/delivered`);
        if (answer.status === 202) accepted.push(again);
        return answer.status === 202;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const keys = new Set(
      (await readAll(topic.name, 20_000, kafka.brokers)).map((r) => String(r.message.key)),
    );
    for (const d of accepted) expect(keys).toContain(d);
    for (const d of refused) expect(keys).not.toContain(d);
  }, 180_000);
});
