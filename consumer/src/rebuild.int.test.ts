import type pg from 'pg';
import { createKafka, createPool } from '@catchall/core';
import { loadQueryConfig, startQueryService, type QueryService } from '@catchall/query-api';
import { createEventDecoder } from '@catchall/schemas';
import { testInfra, uniqueName } from '../../test/support/env';
import { streamEvents } from '../../test/support/event-stream';
import { expectedCounts, makeEvents, publishEvents } from '../../test/support/events';
import { createTestTopic, testKafka, type TestTopic } from '../../test/support/kafka';
import { testLogger } from '../../test/support/logger';
import { createTestDatabase, type TestDatabase } from '../../test/support/postgres';
import { countsFromTopic } from '../../test/support/topic-truth';
import { waitFor } from '../../test/support/wait';
import { buildConsumer, type ConsumerService } from './app';
import { loadConsumerConfig } from './config';
import {
  dropVersion,
  listVersions,
  liveReadModelVersion,
  switchLive,
  VersionError,
} from './read-model-version';
import { rebuild, RebuildRefused, type RebuildOptions, type RebuildProgress } from './rebuild';

const infra = testInfra();
type Counts = Map<string, { delivered: number; bounced: number }>;

async function versionCounts(pool: pg.Pool, version: number): Promise<Counts> {
  const { rows } = await pool.query<{ domain: string; delivered: number; bounced: number }>(
    'SELECT domain, delivered::int, bounced::int FROM domain_stats WHERE version = $1',
    [version],
  );
  return new Map(rows.map((r) => [r.domain, { delivered: r.delivered, bounced: r.bounced }]));
}

/** The rows of a version whose status disagrees with the rule (none if written right). */
async function wrongStatuses(pool: pg.Pool, version: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM domain_stats s JOIN read_model_versions v USING (version)
     WHERE s.version = $1 AND s.status::text <> CASE WHEN s.bounced > 0 THEN 'not catch-all'
       WHEN s.delivered > v.catch_all_threshold THEN 'catch-all' ELSE 'unknown' END`,
    [version],
  );
  return rows[0]!.n;
}

async function topicEnd(topic: string): Promise<Map<number, number>> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** True once the version's stored positions reach the end of the topic on every partition. */
async function atEnd(pool: pg.Pool, version: number, topic: string): Promise<boolean> {
  const end = await topicEnd(topic);
  const { rows } = await pool.query<{ partition: number; next_offset: number }>(
    'SELECT partition, next_offset FROM projection_positions WHERE version = $1 AND topic = $2',
    [version, topic],
  );
  const stored = new Map(rows.map((r) => [r.partition, Number(r.next_offset)]));
  return [...end].every(([p, high]) => (stored.get(p) ?? 0) >= high);
}

describe('rebuilding the read model from the topic', () => {
  let topic: TestTopic;
  let db: TestDatabase;
  let pool: pg.Pool;
  let consumer: ConsumerService;
  let query: QueryService;
  const logger = testLogger('rebuild');

  function options(overrides: Partial<RebuildOptions> = {}): RebuildOptions {
    return {
      pool,
      kafka: createKafka({ brokers: infra.brokers, clientId: 'rebuild-test', logger }),
      codec: createEventDecoder({ registryUrl: infra.registryUrl }),
      topic: topic.name,
      consumerGroup: group,
      threshold: 3,
      acceptTruncated: false,
      fresh: false,
      switchWhenReady: true,
      // Within what arrives between two flushes of the stream below (10,000 events/s).
      switchLag: 3000,
      flushIntervalMs: 100,
      maxPendingDomains: 10000,
      partitionsConsumedConcurrently: 4,
      sessionTimeoutMs: 10000,
      logger,
      progressIntervalMs: 200,
      ...overrides,
    };
  }
  const group = uniqueName('projector');

  beforeAll(async () => {
    topic = await createTestTopic(4);
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 4, logger, applicationName: 'test' });
    consumer = await buildConsumer(
      loadConsumerConfig({
        KAFKA_BROKERS: infra.brokers,
        SCHEMA_REGISTRY_URL: infra.registryUrl,
        DATABASE_URL: db.url,
        EVENTS_TOPIC: topic.name,
        CONSUMER_GROUP: group,
        CATCH_ALL_THRESHOLD: '3',
        FLUSH_INTERVAL_MS: '100',
        LIVE_VERSION_CHECK_MS: '200',
        MIGRATE_ON_START: 'false',
      }),
      logger,
    );
    await consumer.projector.start();
    query = await startQueryService(
      loadQueryConfig({ DATABASE_URL: db.url, PG_POOL_MAX: '4' }),
      testLogger('query-api'),
    );
  });
  afterAll(async () => {
    await query.lifecycle.shutdown('test done');
    await consumer.lifecycle.shutdown('test done');
    await pool.end();
    await db.drop();
    await topic.delete();
  });

  it('builds a new version while events stream in, switches without a failed or backwards answer, and rolls back', async () => {
    await publishEvents(topic.name, makeEvents(3000, 200, 'before'));
    await waitFor('the live projector to count the first events', () => atEnd(pool, 1, topic.name));

    // Queries run all along: every answer must succeed, and a domain's count must never
    // go down (a half-built version would show lower counts).
    const domains = Array.from({ length: 40 }, (_, i) => `stream-${i}.example`);
    const lastSeen = new Map<string, number>();
    const problems: string[] = [];
    let answers = 0;
    let querying = true;
    const queries = (async () => {
      while (querying) {
        for (const domain of domains) {
          const response = await query.app.inject(`/domains/${domain}`);
          answers += 1;
          if (response.statusCode === 404) continue;
          if (response.statusCode !== 200) {
            problems.push(`${domain}: ${response.statusCode} ${response.body}`);
            continue;
          }
          const { delivered, bounced } = response.json() as { delivered: number; bounced: number };
          const total = delivered + bounced;
          if (total < (lastSeen.get(domain) ?? 0)) {
            problems.push(`${domain} went back from ${lastSeen.get(domain)} to ${total}`);
          }
          lastSeen.set(domain, total);
        }
        const list = await query.app.inject('/domains?status=catch-all&limit=20');
        if (list.statusCode !== 200) problems.push(`listing: ${list.statusCode}`);
      }
    })();

    const stream = await streamEvents(topic.name, {
      batch: 200,
      everyMs: 20,
      domains: 500,
      maxEvents: 200_000,
    });
    const progress: RebuildProgress[] = [];
    const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    let result;
    let endAtSwitch = 0;
    let endAfter = 0;
    try {
      result = await rebuild(options({ onProgress: (p) => progress.push(p) }));
      endAtSwitch = sum(await topicEnd(topic.name));
      endAfter = await waitFor('events to arrive after the switch', async () => {
        const end = sum(await topicEnd(topic.name));
        return end > endAtSwitch && end;
      });
    } finally {
      await stream.stop();
    }
    expect(result).toEqual({ version: 2, outcome: 'switched', previous: 1 });
    expect(await liveReadModelVersion(pool)).toBe(2);
    // The switch happened while events were still arriving.
    expect(endAfter).toBeGreaterThan(endAtSwitch);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.lag).toBeLessThanOrEqual(3000);

    // The live projector follows the new version to the end of the topic.
    await waitFor('the live projector to continue version 2', () => atEnd(pool, 2, topic.name), {
      timeoutMs: 60000,
    });
    querying = false;
    await queries;
    expect(problems).toEqual([]);
    expect(answers).toBeGreaterThan(domains.length);

    const truth = await countsFromTopic(topic.name);
    expect(await versionCounts(pool, 2)).toEqual(truth);
    expect(await wrongStatuses(pool, 2)).toBe(0);
    // The query API answers from the new version.
    const sample = [...truth.keys()][0]!;
    const answer = (await query.app.inject(`/domains/${sample}`)).json() as { delivered: number };
    expect(answer.delivered).toBe(truth.get(sample)!.delivered);

    // Roll back: the old version goes live again and the live projector brings it up to
    // date from its own positions, to the same counts.
    expect(await switchLive(pool, 1)).toEqual({ from: 2, to: 1 });
    await waitFor('the live projector to catch version 1 up', () => atEnd(pool, 1, topic.name), {
      timeoutMs: 60000,
    });
    expect(await versionCounts(pool, 1)).toEqual(truth);

    // The live version cannot be dropped; the other one can, entirely.
    await expect(dropVersion(pool, 1)).rejects.toThrow(VersionError);
    await dropVersion(pool, 2);
    expect((await listVersions(pool)).map((v) => v.version)).toEqual([1]);
    const left = await pool.query(`SELECT to_regclass('domain_stats_v2') AS t`);
    expect(left.rows[0].t).toBeNull();
  });

  it('resumes an interrupted rebuild where it stopped, to the same counts', async () => {
    await publishEvents(topic.name, makeEvents(60000, 20000, 'resume'));
    const controller = new AbortController();
    let stoppedAt: RebuildProgress | undefined;
    const first = await rebuild(
      options({
        switchWhenReady: false,
        signal: controller.signal,
        // Slowed down (small flushes, one partition at a time) so that it is interrupted
        // part-way: after it has applied something and before it is done.
        maxPendingDomains: 200,
        partitionsConsumedConcurrently: 1,
        onProgress: (p) => {
          if (p.applied > 0 && p.lag > 0 && !controller.signal.aborted) {
            stoppedAt = p;
            controller.abort();
          }
        },
      }),
    );
    expect(stoppedAt).toBeDefined();
    expect(first.outcome).toBe('interrupted');
    const [interrupted] = (await listVersions(pool)).filter((v) => v.version === first.version);
    expect(interrupted!.state).toBe('building');

    const resumedFrom: RebuildProgress[] = [];
    const second = await rebuild(
      options({ switchWhenReady: false, onProgress: (p) => resumedFrom.push(p) }),
    );
    expect(second).toEqual({ version: first.version, outcome: 'ready' });
    // It went on from where the first run stopped, not from the start.
    expect(resumedFrom[0]!.applied).toBeGreaterThanOrEqual(stoppedAt!.applied);
    expect(await versionCounts(pool, second.version)).toEqual(await countsFromTopic(topic.name));
    expect(await liveReadModelVersion(pool)).toBe(1);
    await dropVersion(pool, second.version);
  });

  it('rebuilds from a given time: only the records from then on are counted', async () => {
    await publishEvents(topic.name, makeEvents(1000, 50, 'older'));
    // Every older record was acknowledged, stamped before now: `from` is after all of them,
    // and the newer ones are stamped once the clock has passed it.
    const from = new Date(Date.now() + 1);
    await waitFor('the clock to pass the start time', () => Date.now() > from.getTime());
    const newer = makeEvents(1500, 60, 'newer');
    await publishEvents(topic.name, newer);
    const result = await rebuild(options({ fromTime: from, switchWhenReady: false }));
    expect(result.outcome).toBe('ready');
    expect(await versionCounts(pool, result.version)).toEqual(expectedCounts(newer));
    const [built] = (await listVersions(pool)).filter((v) => v.version === result.version);
    expect(built!.startedFrom).toBe(from.toISOString());
    await dropVersion(pool, result.version);
  });

  it('refuses to rebuild from a topic that retention has cut, unless told to accept it', async () => {
    await publishEvents(topic.name, makeEvents(2000, 50, 'cut'));
    const admin = testKafka().admin();
    await admin.connect();
    try {
      // kafkajs looks the partition leader up in metadata it must have loaded first.
      await admin.fetchTopicMetadata({ topics: [topic.name] });
      await admin.deleteTopicRecords({
        topic: topic.name,
        partitions: [{ partition: 0, offset: '10' }],
      });
    } finally {
      await admin.disconnect();
    }
    await expect(rebuild(options())).rejects.toThrow(RebuildRefused);
    await expect(rebuild(options())).rejects.toThrow(/partition 0 \(earliest offset 10\)/);
    // Nothing was created by the refusals.
    expect((await listVersions(pool)).map((v) => v.version)).toEqual([1]);

    const accepted = await rebuild(options({ acceptTruncated: true, switchWhenReady: false }));
    expect(accepted.outcome).toBe('ready');
    await dropVersion(pool, accepted.version);
  });
});
