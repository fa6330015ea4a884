/**
 * Read model benchmark, on a 10,000,000-domain read model built the way production builds
 * one: the topic is preloaded with one event per domain, then `rebuild` (the library behind
 * `npm run replay -- rebuild`) builds a new version from it and switches to it.
 *
 * 1. Rebuild: events/s from start to switch, next to the Postgres ceiling measured in the
 *    same run (the projector's upsert fed the same events from memory).
 * 2. Lookups: GET /domains/<d> on random domains through the query API (its own processes,
 *    one worker, then one per core) at rising concurrency, with wrk as the load generator,
 *    next to the same primary-key query sent straight through `pg`. Each load starts after
 *    a warm-up that is reported but not counted.
 * 3. Listing: pages of GET /domains?status=... from random points of the key space.
 *
 *   npm run bench:read-model     (BENCH_DOMAINS=10000000, BENCH_SECONDS=10,
 *                                 BENCH_WARM_UP_SECONDS=30, BENCH_QUERY_WORKERS=<cores>)
 *   BENCH_ONLY=lookups           writes the rows by SQL instead of rebuilding: 2 and 3 only
 */
import { availableParallelism } from 'node:os';
import pg from 'pg';
import pino from 'pino';
import { createKafka, type Lifecycle } from '@catchall/core';
import { rebuild, type RebuildProgress } from '@catchall/consumer';
import { createEventDecoder } from '@catchall/schemas';
import { benchDatabases, eventsTopic, postgresCeiling, preload } from './lib/preload';
import { latencyHistogram, report } from './lib/report';
import { startService, withStack } from './lib/stack';
import type { Infra } from '@catchall/scripts';
import { rng } from './lib/workloads';
import { ensureWrk, wrkLoad } from './lib/wrk';

const DOMAINS = Number(process.env.BENCH_DOMAINS ?? 10_000_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARM_UP_SECONDS = Number(process.env.BENCH_WARM_UP_SECONDS ?? 30);
/** Query API processes (its WORKERS): one per core of this machine by default. */
const WORKERS = Number(process.env.BENCH_QUERY_WORKERS ?? availableParallelism());
const TOPIC = 'bench-read-model';
const PARTITIONS = 12;
const silent = pino({ level: 'silent' });
const log = (message: string) => console.log(`[bench] ${message}`);

/**
 * The query API's lookup, sent straight through pg by `concurrency` loops on `pool`. The
 * pool is warmed first like the API's: a new Postgres backend maps shared buffers page by
 * page as it touches them, and its first seconds on a 4 GB cache are slow ones.
 */
async function directLookups(pool: pg.Pool, concurrency: number, seconds: number) {
  const latency = latencyHistogram();
  const random = rng(11);
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const domain = `d${Math.floor(random() * DOMAINS)}.example`;
        const t0 = process.hrtime.bigint();
        const { rowCount } = await pool.query({
          name: 'lookup',
          text: `SELECT s.domain, s.status::text, s.delivered, s.bounced, s.first_event_at,
                        s.last_event_at, s.updated_at
                 FROM domain_stats s
                 WHERE s.version = (SELECT version FROM live_read_model) AND s.domain = $1`,
          values: [domain],
        });
        if (rowCount !== 1) throw new Error(`${domain} not found`);
        latency.record(Number(process.hrtime.bigint() - t0) / 1e6);
        done += 1;
      }
    }),
  );
  return { connections: concurrency, 'items/s': Math.round(done / seconds), ...latency.summary() };
}

/** GET /domains/<random d> through the query API with `workers` processes. */
async function apiLookups(
  databaseUrl: string,
  workers: number,
  connections: number[],
  lifecycle: Lifecycle,
) {
  const query = await startService('query-api', {
    DATABASE_URL: databaseUrl,
    // Batched lookups need few connections, and each new backend is cold (see above).
    PG_POOL_MAX: '4',
    WORKERS: String(workers),
  });
  lifecycle.onClose(`query API (${workers} workers)`, () => query.stop());
  const rows: Record<string, unknown>[] = [];
  const label = `${workers} worker${workers > 1 ? 's' : ''}`;
  log(`lookups, ${label}: warming up for ${WARM_UP_SECONDS} s`);
  const lookup = { path: '/domains/d{key}.example', keys: DOMAINS };
  const warmUp = await wrkLoad({
    url: query.url,
    connections: 64,
    seconds: WARM_UP_SECONDS,
    ...lookup,
  });
  rows.push({ scenario: `warm-up, query API ${label} (not counted)`, ...warmUp });
  for (const c of connections) {
    rows.push({
      scenario: `query API GET /domains/<d>, ${label}, ${c} connections`,
      ...(await wrkLoad({ url: query.url, connections: c, seconds: SECONDS, ...lookup })),
    });
  }
  return { query, rows };
}

/** Preloads the topic, measures the Postgres ceiling and rebuilds from the topic. */
async function rebuildFromTopic(stack: Infra, lifecycle: Lifecycle) {
  const { databaseUrl, ceilingUrl } = await benchDatabases(stack.postgres);
  const encoder = await eventsTopic(stack, TOPIC, PARTITIONS);
  log(`preloading ${DOMAINS.toLocaleString('en')} events, one per domain`);
  const preloadRate = await preload(stack.kafka.brokers, TOPIC, 'distinct', DOMAINS, encoder);

  log('measuring the Postgres ceiling');
  const ceiling = (await postgresCeiling(ceilingUrl, 'distinct', DOMAINS)).eventsPerSecond;

  log('rebuilding');
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 8 });
  lifecycle.onClose('pool', () => pool.end());
  const t0 = Date.now();
  let last: RebuildProgress | undefined;
  const result = await rebuild({
    pool,
    kafka: createKafka({ brokers: stack.kafka.brokers, clientId: 'bench', logger: silent }),
    codec: createEventDecoder({ registryUrl: stack.registry.url }),
    topic: TOPIC,
    consumerGroup: 'bench-projector',
    threshold: 1000,
    acceptTruncated: false,
    fresh: false,
    switchWhenReady: true,
    switchLag: 0,
    flushIntervalMs: 250,
    maxPendingDomains: 50_000,
    partitionsConsumedConcurrently: 4,
    sessionTimeoutMs: 10_000,
    logger: silent,
    progressIntervalMs: 1000,
    onProgress: (p) => {
      if (!last || p.applied - last.applied > 0) {
        log(`rebuild: ${p.applied}/${p.total} events, ${Math.round(p.eventsPerSecond)}/s`);
      }
      last = p;
    },
  });
  const rebuildSeconds = (Date.now() - t0) / 1000;
  const rebuildRate = Math.round(DOMAINS / rebuildSeconds);
  const {
    rows: [size],
  } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM domain_stats WHERE version = $1',
    [result.version],
  );
  if (size!.n !== DOMAINS) throw new Error(`rebuilt ${size!.n} rows, expected ${DOMAINS}`);
  await pool.query('VACUUM ANALYZE domain_stats');
  return {
    databaseUrl,
    rows: [
      {
        scenario: `rebuild ${DOMAINS.toLocaleString('en')} domains from the topic`,
        'items/s': rebuildRate,
        seconds: Number(rebuildSeconds.toFixed(1)),
      },
      { scenario: 'Postgres ceiling (same upsert fed from memory, baseline)', 'items/s': ceiling },
      { scenario: 'topic preload (kafkajs)', 'items/s': preloadRate },
    ],
    notes: [
      `read model of ${DOMAINS.toLocaleString('en')} domains (version ${result.version}, switched from ${result.previous})`,
      `rebuild / Postgres ceiling = ${(rebuildRate / ceiling).toFixed(2)} (${rebuildRate} / ${ceiling} events/s)`,
    ],
  };
}

/** BENCH_ONLY=lookups: the same rows written by one INSERT into the live version. */
async function fillBySql(stack: Infra) {
  const { databaseUrl } = await benchDatabases(stack.postgres);
  log(`writing ${DOMAINS.toLocaleString('en')} rows by SQL (no rebuild)`);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO domain_stats (version, domain, delivered, bounced, first_event_at,
                                 last_event_at, updated_at, status)
       SELECT (SELECT version FROM live_read_model), 'd' || i || '.example', 1, 0,
              now(), now(), now(), 'unknown'
       FROM generate_series(0, $1::int - 1) i`,
      [DOMAINS],
    );
    await client.query('VACUUM ANALYZE domain_stats');
  } finally {
    await client.end();
  }
  return {
    databaseUrl,
    rows: [],
    notes: [`read model of ${DOMAINS.toLocaleString('en')} domains written by SQL`],
  };
}

async function main(): Promise<void> {
  ensureWrk(log);
  // Postgres sized like a server for this read model: its indexes and hot rows in memory.
  await withStack({ postgresSharedBuffers: '4GB' }, async (stack, lifecycle) => {
    const built =
      process.env.BENCH_ONLY === 'lookups'
        ? await fillBySql(stack)
        : await rebuildFromTopic(stack, lifecycle);
    const { databaseUrl } = built;

    const lookups: Record<string, unknown>[] = [];
    // One process first, then one per core: the API's own ceiling, then the machine's.
    const single = await apiLookups(databaseUrl, 1, [32, 64], lifecycle);
    lookups.push(...single.rows);
    await single.query.stop();
    const { query, rows } = await apiLookups(databaseUrl, WORKERS, [32, 48, 64, 96], lifecycle);
    lookups.push(...rows);
    // The HTTP ceiling of this machine: the same server answering its liveness route.
    lookups.push({
      scenario: `query API GET /healthz, ${WORKERS} workers, 64 connections (HTTP ceiling)`,
      ...(await wrkLoad({ url: query.url, connections: 64, seconds: SECONDS, path: '/healthz' })),
    });
    log('lookups straight through pg');
    const direct = new pg.Pool({ connectionString: databaseUrl, max: 32, idleTimeoutMillis: 0 });
    lifecycle.onClose('baseline pool', () => direct.end());
    await directLookups(direct, 32, WARM_UP_SECONDS);
    for (const concurrency of [8, 32]) {
      lookups.push({
        scenario: `pg primary-key query, ${concurrency} concurrent (baseline)`,
        ...(await directLookups(direct, concurrency, SECONDS)),
      });
    }
    const random = rng(13);

    log('listing');
    const listing = latencyHistogram();
    for (let i = 0; i < 200; i += 1) {
      const after = `d${Math.floor(random() * DOMAINS)}.example`;
      const cursor = Buffer.from(JSON.stringify({ after })).toString('base64url');
      const t = process.hrtime.bigint();
      const response = await fetch(
        `${query.url}/domains?status=unknown&limit=100&cursor=${cursor}`,
      );
      const body = (await response.json()) as { items: unknown[] };
      if (!response.ok || body.items.length === 0) throw new Error('listing failed');
      listing.record(Number(process.hrtime.bigint() - t) / 1e6);
    }

    const passes = lookups.filter(
      (r) =>
        String(r.scenario).startsWith(`query API GET /domains/<d>, ${WORKERS} workers`) &&
        Number(r.p99) < 10,
    );
    const httpCeiling = Number(
      lookups.find((r) => String(r.scenario).includes('/healthz'))!['items/s'],
    );
    const best = passes.sort((a, b) => Number(b['items/s']) - Number(a['items/s']))[0];
    const baseline = Math.max(
      ...lookups
        .filter((r) => String(r.scenario).startsWith('pg'))
        .map((r) => Number(r['items/s'])),
    );
    report(
      'read-model',
      [
        ...built.rows,
        ...lookups,
        { scenario: 'GET /domains?status=unknown&limit=100 (200 pages)', ...listing.summary() },
      ],
      [
        ...built.notes,
        `${SECONDS} s per load; Postgres, Kafka, the API and the load generator share this machine`,
        best
          ? `highest query API rate with p99 < 10 ms: ${best['items/s']} lookups/s at p99 ${best.p99} ms = ${(Number(best['items/s']) / baseline).toFixed(2)} of the direct pg baseline (${baseline}/s), ${(Number(best['items/s']) / httpCeiling).toFixed(2)} of the HTTP ceiling (${httpCeiling}/s)`
          : 'no query API load kept p99 under 10 ms',
        'latencies in ms',
      ],
    );
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
