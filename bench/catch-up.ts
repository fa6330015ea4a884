/**
 * Projector benchmark: preloads topics with events over a 10,000,000-domain key space
 * (Zipf-like, uniform, and heavy: mixed-case names with up to 2,500 events each), then measures how fast
 * the projector catches up into Postgres, next to two baselines from the same run: the same
 * multi-row upsert fed straight from memory (the Postgres ceiling) and Kafka's own
 * ConsumerPerformance tool on the same topic. Then freshness (Kafka ack to row in Postgres)
 * at a steady 10,000 events/s, and the projector's memory. For the workloads of
 * BENCH_CLIENT_ID_WORKLOADS (all three), the same load again with every event carrying an
 * id the client chose (each checked and remembered in Postgres), beside the load without, and
 * the storage those ids take; then Postgres's CPU per id with and without the older tables of
 * ids a steady state keeps (BENCH_EVENT_ID_COST=0 skips it). The result keeps each
 * catch-up's progress over time (applied events every 250 ms), which its charts draw.
 *
 *   npm run bench:catch-up     (BENCH_EVENTS=2000000 per workload by default)
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import type { EventEncoder } from '@catchall/schemas';
import { DEFAULT_DEDUPE_WINDOW_MS, EVENT_ID_BUCKET_MS } from '@catchall/consumer';
import { benchDatabases, benchKafka, eventsTopic, postgresCeiling, preload } from './lib/preload';
import type { BenchResult, ProgressPoint } from './lib/charts/figure';
import { latencyHistogram, report } from './lib/report';
import type { Infra } from '@catchall/scripts';
import { startService, withStack } from './lib/stack';
import { eventIdCost } from './lib/event-id-cost';
import { tokenReads } from './lib/token-reads';
import type { Workload } from './lib/workloads';

const run = promisify(execFile);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 2_000_000);
/** Node options for the projector under test, space-separated (heap flags, `--trace-gc`). */
const PROJECTOR_NODE_ARGS = (process.env.BENCH_PROJECTOR_NODE_ARGS ?? '')
  .split(' ')
  .filter(Boolean);
const PARTITIONS = 12;

type Stack = Infra;

function kafkaOf(stack: Stack) {
  return benchKafka(stack.kafka.brokers);
}

async function consumerPerformance(stack: Stack, topic: string): Promise<number> {
  const { stdout } = await run(
    stack.kafka.java,
    [
      '-Xmx512m',
      '-cp',
      `${stack.kafka.libs}/*`,
      'org.apache.kafka.tools.ConsumerPerformance',
      '--bootstrap-server',
      stack.kafka.brokers,
      '--topic',
      topic,
      '--messages',
      String(EVENTS),
      '--group',
      `perf-${topic}`,
      '--timeout',
      '60000',
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const lines = stdout.trim().split('\n');
  const header = lines.findIndex((l) => l.includes('nMsg.sec'));
  const columns = lines[header]!.split(',').map((c) => c.trim());
  const values = lines[header + 1]!.split(',').map((c) => c.trim());
  return Math.round(Number(values[columns.indexOf('nMsg.sec')]));
}

/**
 * A process's peak resident memory so far, in MB: the kernel's high-water mark (VmHWM of
 * /proc/<pid>/status, proc(5)), which no sampling interval can miss.
 */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

async function appliedTotal(pool: pg.Pool, topic: string): Promise<number> {
  const { rows } = await pool.query<{ n: string | null }>(
    'SELECT sum(next_offset)::text AS n FROM projection_positions WHERE topic = $1',
    [topic],
  );
  return Number(rows[0]?.n ?? 0);
}

/** What the event ids take in Postgres: rows, and bytes with their indexes. */
async function eventIdStorage(pool: pg.Pool): Promise<{ ids: number; bytes: number }> {
  const { rows } = await pool.query<{ ids: string; bytes: string }>(
    `SELECT (SELECT count(*) FROM event_ids)::text AS ids,
            coalesce(sum(pg_total_relation_size(c.oid)), 0)::text AS bytes
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'event_ids_v1'::regclass`,
  );
  return { ids: Number(rows[0]!.ids), bytes: Number(rows[0]!.bytes) };
}

async function catchUp(stack: Stack, databaseUrl: string, pool: pg.Pool, topic: string) {
  const consumer = await startService(
    'consumer',
    {
      KAFKA_BROKERS: stack.kafka.brokers,
      SCHEMA_REGISTRY_URL: stack.registry.url,
      DATABASE_URL: databaseUrl,
      EVENTS_TOPIC: topic,
      CONSUMER_GROUP: `projector-${topic}`,
      MIGRATE_ON_START: 'false',
    },
    PROJECTOR_NODE_ARGS,
  );
  const t0 = Date.now();
  // Progress over time, from the positions polled anyway: one sample per poll (250 ms).
  const progress: ProgressPoint[] = [];
  for (;;) {
    const applied = await appliedTotal(pool, topic);
    progress.push({ s: Number(((Date.now() - t0) / 1000).toFixed(2)), applied });
    if (applied >= EVENTS) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const seconds = (Date.now() - t0) / 1000;
  const maxRss = peakRssMb(consumer.child.pid!);
  // CPU time per event: the figure the machine's other load moves least.
  const cpuMicros = Number(((consumer.cpuSeconds() * 1e6) / EVENTS).toFixed(2));
  return { consumer, rate: Math.round(EVENTS / seconds), seconds, maxRss, cpuMicros, progress };
}

/** Freshness at a steady rate: probe events timed from Kafka's ack to their row in Postgres. */
async function freshness(
  stack: Stack,
  pool: pg.Pool,
  topic: string,
  encoder: EventEncoder,
  perSecond: number,
  /** Per tick, a read-your-writes probe besides (see tokenReads). */
  tokenProbe?: () => Promise<void>,
) {
  const producer = kafkaOf(stack).producer();
  await producer.connect();
  const latency = latencyHistogram();
  const seconds = Number(process.env.BENCH_FRESHNESS_SECONDS ?? 20);
  const tickMs = 50;
  const perTick = Math.round((perSecond * tickMs) / 1000);
  const probes: Promise<void>[] = [];
  let n = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const tick = Date.now();
    const probe = `probe-${(n += 1)}.example`;
    const messages = Array.from({ length: perTick - 1 }, (_, i) => {
      const domain = `steady-${(n * perTick + i) % 100000}.example`;
      return {
        key: domain,
        value: encoder.encode({
          eventId: `s${n}-${i}`,
          domain,
          type: 'delivered',
          occurredAt: tick,
          source: null,
          eventIdOrigin: 'ingest',
        }),
      };
    });
    messages.push({
      key: probe,
      value: encoder.encode({
        eventId: probe,
        domain: probe,
        type: 'delivered',
        occurredAt: tick,
        source: null,
        eventIdOrigin: 'ingest',
      }),
    });
    await producer.send({ topic, acks: -1, messages });
    const acked = Date.now();
    if (tokenProbe) probes.push(tokenProbe());
    probes.push(
      (async () => {
        for (;;) {
          const { rowCount } = await pool.query(
            'SELECT 1 FROM domain_stats WHERE version = 1 AND domain = $1',
            [probe],
          );
          if (rowCount) return latency.record(Date.now() - acked);
          await new Promise((r) => setTimeout(r, 5));
        }
      })(),
    );
    await new Promise((r) => setTimeout(r, Math.max(0, tickMs - (Date.now() - tick))));
  }
  await Promise.all(probes);
  await producer.disconnect();
  return { probes: n, ...latency.summary() };
}

async function main(): Promise<void> {
  await withStack({}, async (stack, lifecycle) => {
    const { databaseUrl, ceilingUrl } = await benchDatabases(stack.postgres);
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 8 });
    lifecycle.onClose('pool', () => pool.end());
    const rows: Record<string, unknown>[] = [];
    const progress: Record<string, ProgressPoint[]> = {};
    const workloads = (process.env.BENCH_WORKLOADS ?? 'zipf,uniform,heavy').split(
      ',',
    ) as Workload[];
    const clientIdWorkloads = (process.env.BENCH_CLIENT_ID_WORKLOADS ?? 'zipf,uniform,heavy').split(
      ',',
    );
    let zipfTopic: string | undefined;
    let zipfEncoder: EventEncoder | undefined;
    for (const workload of workloads) {
      const topic = `bench-${workload}`;
      const encoder = await eventsTopic(stack, topic, PARTITIONS);
      const preloadRate = await preload(stack.kafka.brokers, topic, workload, EVENTS, encoder);
      const ceiling = await postgresCeiling(ceilingUrl, workload, EVENTS);
      const kafkaRate = await consumerPerformance(stack, topic);
      const projected = await catchUp(stack, databaseUrl, pool, topic);
      const {
        rows: [size],
      } = await pool.query<{ domains: string }>(
        'SELECT count(*)::text AS domains FROM domain_stats',
      );
      rows.push({
        workload,
        events: EVENTS,
        'projector events/s': projected.rate,
        'Postgres ceiling events/s': ceiling.eventsPerSecond,
        'Postgres ceiling rows/s per connection': ceiling.rowsPerSecondPerConnection,
        'Kafka ConsumerPerformance events/s': kafkaRate,
        'projector / ceiling': Number((projected.rate / ceiling.eventsPerSecond).toFixed(2)),
        'projector CPU µs/event': projected.cpuMicros,
        'max RSS MB': projected.maxRss,
        'rows after': Number(size!.domains),
        'preload events/s': preloadRate,
      });
      progress[workload] = projected.progress;
      if (clientIdWorkloads.includes(workload)) {
        // The same load, every event with an id the client chose, right after the load without.
        const idsTopic = `bench-${workload}-client-ids`;
        const idsEncoder = await eventsTopic(stack, idsTopic, PARTITIONS);
        await preload(stack.kafka.brokers, idsTopic, workload, EVENTS, idsEncoder, 'client');
        const before = await eventIdStorage(pool);
        const withIds = await catchUp(stack, databaseUrl, pool, idsTopic);
        await withIds.consumer.stop();
        const after = await eventIdStorage(pool);
        const ids = after.ids - before.ids;
        const bytes = after.bytes - before.bytes;
        rows.push({
          workload: `${workload}, client ids`,
          events: EVENTS,
          'projector events/s': withIds.rate,
          'projector / same load without ids': Number((withIds.rate / projected.rate).toFixed(2)),
          'projector CPU µs/event': withIds.cpuMicros,
          'max RSS MB': withIds.maxRss,
          'ids stored': ids,
          'MB per million ids': Number((bytes / 1e6 / (ids / 1e6)).toFixed(1)),
        });
        progress[`${workload}, client ids`] = withIds.progress;
      }
      if (workload === 'zipf') {
        zipfTopic = topic;
        zipfEncoder = encoder;
        lifecycle.onClose('projector', () => projected.consumer.stop());
      } else {
        await projected.consumer.stop();
      }
    }
    const notes = [
      `${EVENTS} events per workload over a ${(10_000_000).toLocaleString('en')}-domain key space, ${PARTITIONS} partitions; broker, Postgres, projector and load share this machine`,
      'projector events/s: from the consumer process start to every record committed in Postgres (group join included)',
    ];
    if (process.env.BENCH_EVENT_ID_COST !== '0') {
      // Older tables a look-up reads in a steady state at the default window: 4.
      const steady = Math.ceil(DEFAULT_DEDUPE_WINDOW_MS / EVENT_ID_BUCKET_MS);
      const costs = await eventIdCost(stack.postgres, {
        olderTables: [0, steady],
        idsPerOlderTable: 250_000,
        ids: 300_000,
        flushIds: 5_000,
      });
      const [fresh, steadyCost] = costs;
      notes.push(
        `Postgres per client id (look-up and row, the projector's EventIdStore, flushes of 5,000, backend CPU): ${fresh!.postgresMicrosPerId} µs with no older table of ids (a short catch-up), ${steadyCost!.postgresMicrosPerId} µs with the ${steady} older ${EVENT_ID_BUCKET_MS / 60_000}-minute tables of 250,000 ids each that a steady state at the default DEDUPE_WINDOW_S keeps (each look-up reads every table within the window): ${(steadyCost!.postgresMicrosPerId / fresh!.postgresMicrosPerId).toFixed(2)}×; wall ${fresh!.wallMicrosPerId} and ${steadyCost!.wallMicrosPerId} µs`,
      );
    }
    let latencies: BenchResult['latencies'];
    if (zipfTopic && zipfEncoder) {
      // Reads with a consistency token go through a real query API process.
      const query = await startService('query-api', {
        DATABASE_URL: databaseUrl,
        EVENTS_TOPIC: zipfTopic,
      });
      lifecycle.onClose('query API', () => query.stop());
      const probeProducer = kafkaOf(stack).producer();
      await probeProducer.connect();
      lifecycle.onClose('probe producer', () => probeProducer.disconnect());
      const reads = tokenReads({
        producer: probeProducer,
        topic: zipfTopic,
        encoder: zipfEncoder,
        queryUrl: query.url,
      });
      const fresh = await freshness(stack, pool, zipfTopic, zipfEncoder, 10000, reads.probe);
      notes.push(
        `freshness at 10,000 events/s (Kafka ack to row in Postgres), ${fresh.probes} probes: p50 ${fresh.p50} ms, p95 ${fresh.p95} ms, p99 ${fresh.p99} ms`,
      );
      const token = reads.summary();
      latencies = {
        'freshness at 10,000 events/s: Kafka ack to row': fresh,
        'read-your-writes: Kafka ack to a 200 with the token': token,
      };
      notes.push(
        `read-your-writes at the same time (Kafka ack to a 200 of GET /domains/<d> with the consistency token from the delivery report, through the query API), ${token.probes} probes: p50 ${token.p50} ms, p95 ${token.p95} ms, p99 ${token.p99} ms; other answers: ${JSON.stringify(token.failures)}`,
      );
    }
    report('catch-up', rows, notes, { progress, ...(latencies ? { latencies } : {}) });
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
