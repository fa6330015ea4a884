import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Transaction } from 'kafkajs';
import { startPrometheus, type RunningPrometheus } from '../../scripts/src/infra';
import { encoderFor, produceMessages, toEvent } from '../support/events';
import { projectorEnv } from '../support/env';
import {
  createTestTopic,
  testKafka,
  testTransactionalProducer,
  type TestTopic,
} from '../support/kafka';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { spawnAllServices, type RunningService } from '../support/services';
import { alertParts, alertRules, dashboardQueries, RULES } from '../support/monitoring';
import { waitFor } from '../support/wait';

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

const rules = alertRules();

/**
 * A real Prometheus scrapes the three services while events flow; every dashboard query and
 * alert expression is evaluated against it, and each returns series (an alert's expression
 * through its metric selectors and the sides of its comparisons, since the alert itself
 * returns nothing while all is well); the stalled-partition alert fires when a transaction
 * left open holds a partition back, whose lag grows meanwhile; the service-down alert fires
 * for a frozen ingest API.
 */
describe('the services, the dashboard and the alerts under a real Prometheus', () => {
  let topic: TestTopic;
  let db: TestDatabase;
  let services: RunningService[] = [];
  let prometheus: RunningPrometheus | undefined;
  let open: Transaction | undefined;
  const producer = testTransactionalProducer();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'prometheus-e2e-'));

  /** Prometheus's answer to an instant query; throws on a parse or evaluation error. */
  async function query(expr: string): Promise<Sample[]> {
    const response = await fetch(
      `${prometheus!.url}/api/v1/query?query=${encodeURIComponent(expr)}`,
    );
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { result: Sample[] };
    };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? response.status}`);
    return body.data!.result;
  }

  /**
   * The dashboard's queries (those `only` keeps) that Prometheus answers with no series now,
   * `panel: expr`.
   */
  async function dashboardQueriesWithoutSeries(
    only: (expr: string) => boolean = () => true,
  ): Promise<string[]> {
    const missing: string[] = [];
    for (const q of dashboardQueries().filter((q) => only(q.expr)))
      if ((await query(q.expr)).length === 0) missing.push(`${q.panel}: ${q.expr}`);
    return missing;
  }

  /**
   * Waits (a minute at most) for every dashboard query (that `only` keeps) to return series;
   * names those that do not.
   */
  async function expectEveryDashboardQueryToAnswer(
    when: string,
    only: (expr: string) => boolean = () => true,
  ): Promise<void> {
    const missing = await waitFor(
      `every dashboard query to return series ${when}`,
      async () => {
        const now = await dashboardQueriesWithoutSeries(only);
        return now.length === 0 ? now : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    ).catch(async (err: Error) => {
      throw new Error(
        `${err.message}; without series: ${(await dashboardQueriesWithoutSeries(only)).join(' | ')}`,
      );
    });
    expect(missing).toEqual([]);
  }

  beforeAll(async () => {
    topic = await createTestTopic(3);
    db = await createTestDatabase();
    services = await spawnAllServices({
      ...projectorEnv(topic.name, db.url),
      PARTITION_STALL_MS: '2000',
    });
    // The alerts as they are, but firing after a second instead of their minutes.
    writeFileSync(
      path.join(dir, 'alerts.yml'),
      readFileSync(RULES, 'utf8').replace(/for: \d+m/g, 'for: 1s'),
    );
    prometheus = await startPrometheus({
      dir: path.join(dir, 'prometheus'),
      targets: services.map((s) => ({ address: new URL(s.url).host, service: s.name })),
      ruleFiles: [path.join(dir, 'alerts.yml')],
      scrapeIntervalS: 1,
    });
    await producer.connect();
  });

  afterAll(async () => {
    await open?.abort();
    await producer.disconnect();
    await prometheus?.stop();
    await Promise.all(services.map((s) => s.stop()));
    await db.drop();
    await topic.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes all three services', async () => {
    const up = await waitFor('every target up', async () => {
      const samples = await query('up{job="catch-all"} == 1');
      return samples.length === 3 ? samples : undefined;
    });
    expect(up.map((s) => s.metric.service).sort()).toEqual([
      'consumer',
      'producer-api',
      'query-api',
    ]);
    const services = await query('count by (service) (catchall_process_cpu_seconds_total)');
    expect(services.map((s) => s.metric.service).sort()).toEqual([
      'consumer',
      'producer-api',
      'query-api',
    ]);
  });

  it('answers every dashboard query with series on a fresh system, before any event, refusal or read, but those of API answers', async () => {
    // Counters exported at 0 from the start, rated over two scrapes at least: a panel whose
    // counter appears only once something is counted would show no data here. The panels of
    // HTTP answers leave probes and scrapes out, so before an API request they have nothing
    // to show (a series per route and status appears with its first answer); they answer
    // once events flow (next test).
    const answers = (expr: string) => expr.includes('catchall_http_request');
    await expectEveryDashboardQueryToAnswer('before any event', (expr) => !answers(expr));
    expect(await dashboardQueriesWithoutSeries(answers)).toHaveLength(3);
    const rejected = await query(
      'sum by (reason) (catchall_events_rejected_total{service="producer-api"})',
    );
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected.map((s) => Number(s.value[1]))).toEqual(rejected.map(() => 0));
  });

  it('answers every dashboard query with series while events flow', async () => {
    const [ingest, , queryApi] = services;
    // A token names the partition of its own request's record only: the read below uses the
    // token of the last event of the domain it reads.
    const tokens = new Map<string, string>();
    for (let i = 0; i < 40; i += 1) {
      const type = i % 5 === 0 ? 'bounced' : 'delivered';
      const domain = `d${i % 7}.prometheus.example`;
      const put = await fetch(`${ingest!.url}/events/${domain}/${type}`, { method: 'PUT' });
      expect(put.status).toBe(202);
      tokens.set(domain, put.headers.get('consistency-token')!);
    }
    // A refusal, a record the projector must dead-letter, a read waiting on its token.
    expect(
      (await fetch(`${ingest!.url}/events/not..valid/delivered`, { method: 'PUT' })).status,
    ).toBe(400);
    await produceMessages(topic.name, [{ key: 'x', value: Buffer.from('not the wire format') }]);
    const read = await fetch(`${queryApi!.url}/domains/d1.prometheus.example`, {
      headers: { 'consistency-token': tokens.get('d1.prometheus.example')! },
    });
    expect(read.status).toBe(200);

    await expectEveryDashboardQueryToAnswer('while events flow');
  });

  it('evaluates every alert expression, none firing on a healthy system but dead letters', async () => {
    // query() throws on an expression Prometheus cannot parse or evaluate.
    const results = await Promise.all(rules.map((rule) => query(rule.expr)));
    expect(results.map((r) => Array.isArray(r))).toEqual(rules.map(() => true));
    const firing = await query('ALERTS{alertstate="firing"}');
    // Dead letters are sent on purpose. The produce latency's p99 over the test's few dozen
    // acknowledgements is their slowest, the first of a new producer (its transactional id
    // initialised) on a busy machine: with `for` cut to a second it may fire, rightly.
    const expected = new Set<string | undefined>([
      'CatchAllDeadLetters',
      'CatchAllProduceLatencyHigh',
    ]);
    expect(firing.map((s) => s.metric.alertname).filter((a) => !expected.has(a))).toEqual([]);
  });

  it('fires CatchAllPartitionStalled when a transaction left open holds a partition back', async () => {
    const encoder = await encoderFor(topic.name);
    const record = (domain: string) => ({
      key: domain,
      partition: 2,
      value: encoder.encode(toEvent({ domain, type: 'delivered' })),
    });
    open = await producer.transaction();
    await open.send({ topic: topic.name, acks: -1, messages: [record('open.prometheus.example')] });
    await produceMessages(topic.name, [record('behind.prometheus.example')]);
    const alert = await waitFor(
      'CatchAllPartitionStalled to fire',
      async () =>
        (await query('ALERTS{alertname="CatchAllPartitionStalled",alertstate="firing"}'))[0],
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(alert.metric).toMatchObject({ partition: '2', severity: 'critical' });

    // Its lag grows with each record written behind the open transaction.
    const lagOf2 = async () =>
      Number(
        (await query(`catchall_consumer_lag{service="consumer",partition="2"}`))[0]?.value[1] ?? -1,
      );
    const before = await waitFor('the lag of partition 2', async () => {
      const lag = await lagOf2();
      return lag >= 2 && lag;
    });
    await produceMessages(topic.name, [record('later.prometheus.example')]);
    await waitFor('the lag of partition 2 to grow', async () => (await lagOf2()) === before + 1, {
      timeoutMs: 30_000,
      intervalMs: 500,
    });

    // A read that needs the records held back waits for them and answers 503.
    // The high watermark (read uncommitted): the read committed end stops at the transaction.
    const admin = testKafka().admin({ readUncommitted: true });
    await admin.connect();
    const high = await admin
      .fetchTopicOffsets(topic.name)
      .finally(() => admin.disconnect())
      .then((offsets) => Number(offsets.find((o) => o.partition === 2)!.high));
    const read = await fetch(`${services[2]!.url}/domains/behind.prometheus.example`, {
      headers: { 'consistency-token': `${topic.name}:2:${high - 1}` },
    });
    expect(read.status).toBe(503);
    expect(((await read.json()) as { code: string }).code).toBe('CATCHALL_CONSISTENCY_TIMEOUT');
  });

  it('returns series for every metric selector of every alert and every side of its comparisons, but the server-caused 5xx', async () => {
    // Offsets left out. CatchAllHttpErrors's server-caused 5xx are none on a healthy system:
    // the only 5xx here is the 503 CATCHALL_CONSISTENCY_TIMEOUT above, which it leaves out.
    // Those parts must be empty while that 503 is counted: a misspelt code matcher would
    // count it.
    const serverCaused = (part: string) => part.includes('code!="CATCHALL_CONSISTENCY_TIMEOUT"');
    const all = rules.flatMap((rule) =>
      alertParts(rule.expr).map((part) => `${rule.alert}: ${part}`),
    );
    const parts = all.filter((part) => !serverCaused(part));
    const timeouts = await waitFor('the consistency timeout counted', async () => {
      const found = await query(
        'catchall_http_requests_total{service="query-api",status="503",code="CATCHALL_CONSISTENCY_TIMEOUT"}',
      );
      return found.length > 0 && found;
    });
    expect(timeouts.map((s) => Number(s.value[1]))).toEqual([1]);
    const healthyEmpty = all.filter(serverCaused);
    expect(healthyEmpty).toHaveLength(3);
    for (const part of healthyEmpty) {
      expect([part, await query(part.slice(part.indexOf(': ') + 2))]).toEqual([part, []]);
    }
    const empty = async () => {
      const missing: string[] = [];
      for (const part of parts) {
        if ((await query(part.slice(part.indexOf(': ') + 2))).length === 0) missing.push(part);
      }
      return missing;
    };
    const missing = await waitFor(
      'every part of every alert to return series',
      async () => {
        const now = await empty();
        return now.length === 0 ? now : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}; without series: ${(await empty()).join(' | ')}`);
    });
    expect(missing).toEqual([]);
    expect(parts.length).toBeGreaterThan(rules.length * 2);
  });

  it('fires CatchAllServiceDown for a frozen ingest API, and resolves once it answers again', async () => {
    const [ingest] = services;
    const down = () => query('ALERTS{alertname="CatchAllServiceDown",alertstate="firing"}');
    expect(await down()).toEqual([]);
    // SIGSTOP: the process holds its port and answers nothing, as a frozen one does.
    ingest!.child.kill('SIGSTOP');
    try {
      const alert = await waitFor('CatchAllServiceDown to fire', async () => (await down())[0], {
        timeoutMs: 30_000,
        intervalMs: 500,
      });
      expect(alert.metric).toMatchObject({
        service: 'producer-api',
        instance: new URL(ingest!.url).host,
        severity: 'critical',
      });
      expect((await down()).map((s) => s.metric.service)).toEqual(['producer-api']);
    } finally {
      ingest!.child.kill('SIGCONT');
    }
    await waitFor('CatchAllServiceDown to resolve', async () => (await down()).length === 0, {
      timeoutMs: 30_000,
      intervalMs: 500,
    });
  });
});
