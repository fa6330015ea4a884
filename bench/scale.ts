/**
 * Scale benchmark: the parts combined as a deployment combines them, on one machine. Ingest
 * API processes behind one port (`WORKERS`), projector members of one consumer group (up to
 * one per partition) over an events topic of 24 partitions, a steady load of batches and
 * then a step load beyond what the machine takes, for each member count; members added,
 * one removed (SIGTERM) and one killed (SIGKILL) while events flow. It reports per phase
 * the events accepted and offsets applied per second, freshness (the ingest API's 202 to the read
 * model having applied the probe's offset, from its consistency token), CPU per part of the
 * system; per membership change the time until every record written before it was applied,
 * the longest pause and the freshness meanwhile; at the end it compares the read model with
 * the counts computed from the topic by a consumer of its own (they must be equal; exit 1
 * if not). The figures feed the capacity model (`npm run capacity`).
 *
 *   npm run bench:scale   (BENCH_PHASE_SECONDS=20, BENCH_SCALE_RATE=10000,
 *                          BENCH_SCALE_STEP_RATE=60000, BENCH_SCALE_MEMBERS=1,2,4,12,
 *                          BENCH_SCALE_INGEST_WORKERS=2)
 */
import { readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Infra } from '@catchall/scripts';
import { benchDatabases, benchKafka, eventsTopic } from './lib/preload';
import { longestPause, watchPositions } from './lib/positions-watch';
import { batchLoad, postgresCounters } from './lib/scale-load';
import { cpuByPart, machineTicks, type Part } from './lib/process-cpu';
import { report } from './lib/report';
import { startService, withStack, type ServiceProcess } from './lib/stack';
import { compareReadModel, countsFromTopic } from './lib/topic-counts';

const TOPIC = 'scale-events';
const GROUP = 'scale-projectors';
const PARTITIONS = 24;
const BATCH = 100;
const PHASE_SECONDS = Number(process.env.BENCH_PHASE_SECONDS ?? 20);
const RATE = Number(process.env.BENCH_SCALE_RATE ?? 10_000);
const STEP_RATE = Number(process.env.BENCH_SCALE_STEP_RATE ?? 60_000);
const MEMBER_COUNTS = (process.env.BENCH_SCALE_MEMBERS ?? '1,2,4,12').split(',').map(Number);
const INGEST_WORKERS = Number(process.env.BENCH_SCALE_INGEST_WORKERS ?? 2);
const PROBE_EVERY_MS = 100;
const log = (message: string) => console.log(`[bench +${process.uptime().toFixed(0)}s] ${message}`);

type Watch = ReturnType<typeof watchPositions>;

/**
 * Bytes the topic's records take in the broker's log: the segment files (`*.log`) of its
 * partition folders (`<topic>-<n>`) under `logDir`, one copy (replication 1), indexes left out.
 */
function topicLogBytes(logDir: string, topic: string): number {
  let bytes = 0;
  for (const folder of readdirSync(logDir)) {
    if (!folder.startsWith(`${topic}-`) || !/^\d+$/.test(folder.slice(topic.length + 1))) continue;
    for (const file of readdirSync(path.join(logDir, folder))) {
      if (file.endsWith('.log')) bytes += statSync(path.join(logDir, folder, file)).size;
    }
  }
  if (bytes === 0) throw new Error(`no log segments of ${topic} under ${logDir}`);
  return bytes;
}
const PARTS: Part[] = ['ingest API', 'projector', 'Kafka', 'Postgres', 'registry', 'load'];

/** The key under which a row keeps the window of its probes until fillFreshness. */
const WINDOW = 'probes sent in';

/**
 * Freshness columns of the probes sent in [from, to], filled in by fillFreshness once every
 * probe of the run is applied: the slowest probes of a phase count too.
 */
function freshnessOf(from: number, to: number): Record<string, unknown> {
  return { [WINDOW]: [from, to] };
}

/** Puts each row's freshness in, from the probes of the window freshnessOf noted in it. */
function fillFreshness(rows: Record<string, unknown>[], watch: Watch): void {
  for (const row of rows) {
    const window = row[WINDOW] as [number, number] | undefined;
    if (!window) continue;
    const fresh = watch.freshness(...window);
    delete row[WINDOW];
    Object.assign(row, {
      'freshness p50 ms': fresh.p50,
      'freshness p99 ms': fresh.p99,
      'freshness max ms': fresh.max,
      'probes not applied': fresh['not applied yet'],
    });
  }
}

interface Context {
  ingestUrl: string;
  pool: pg.Pool;
  watch: Watch;
  members: ServiceProcess[];
  seed: number;
  /** Probes sent, and events of the load answered 202. */
  probes: number;
  accepted: number;
}

/**
 * One phase: a load for PHASE_SECONDS with probes every PROBE_EVERY_MS, `change` (a
 * membership change) started with it. Its row: rates, freshness, CPU per part per event.
 */
async function phase(ctx: Context, name: string, rate: number, change?: () => Promise<void>) {
  log(`${name}: ${rate} events/s, ${ctx.members.length} members`);
  const cpu0 = cpuByPart();
  const machine0 = machineTicks();
  const pg0 = await postgresCounters(ctx.pool);
  const t0 = Date.now();
  const end = t0 + PHASE_SECONDS * 1000;
  const probing = (async () => {
    const sent: Promise<void>[] = [];
    while (Date.now() < end) {
      sent.push(ctx.watch.probe(ctx.ingestUrl, `probe-${(ctx.probes += 1)}.scale`));
      await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
    }
    await Promise.all(sent);
  })();
  const loading = batchLoad(ctx.ingestUrl, rate, PHASE_SECONDS, BATCH, (ctx.seed += 1));
  if (change) await change();
  const [loaded] = await Promise.all([loading, probing]);
  ctx.accepted += loaded.accepted;
  const t1 = Date.now();
  const machine1 = machineTicks();
  const seconds = (t1 - t0) / 1000;
  const cpu1 = cpuByPart();
  const pg1 = await postgresCounters(ctx.pool);
  const applied = ctx.watch.appliedAt(t1) - ctx.watch.appliedAt(t0);
  const perEvent = (part: Part) =>
    Number((((cpu1[part] - cpu0[part]) * 1e6) / Math.max(1, loaded.accepted)).toFixed(1));
  const busyTicks = machine1.busy - machine0.busy;
  const partsSeconds = PARTS.reduce((sum, p) => sum + (cpu1[p] - cpu0[p]), 0);
  return {
    kind: 'phase',
    phase: name,
    members: ctx.members.length,
    'offered events/s': rate,
    'accepted events/s': Math.round(loaded.accepted / seconds),
    'applied offsets/s': Math.round(applied / seconds),
    'refused requests': loaded.refused,
    'failed requests': loaded.errors,
    ...freshnessOf(t0, t1),
    'CPU busy %': Math.round((100 * busyTicks) / (machine1.total - machine0.total)),
    // The share of that busy time the benchmark's own processes used: low means other load.
    'CPU accounted %': Math.round((100 * partsSeconds * machine1.ticksPerSecond) / busyTicks),
    ...Object.fromEntries(PARTS.map((p) => [`${p} CPU µs/event`, perEvent(p)])),
    'read model rows written per event': Number(
      ((pg1.rows - pg0.rows) / Math.max(1, loaded.accepted)).toFixed(3),
    ),
    'WAL bytes per event': Math.round((pg1.wal - pg0.wal) / Math.max(1, loaded.accepted)),
  };
}

/** Waits until every partition applied what it held when called; the time it took. */
async function caughtUp(ctx: Context, admin: ReturnType<ReturnType<typeof benchKafka>['admin']>) {
  const ends = await admin.fetchTopicOffsets(TOPIC);
  const deadline = Date.now() + 180_000;
  // A transaction's commit marker takes the last offset: the position stops one before it.
  const behind = () =>
    ends.filter((e) => (ctx.watch.positions.get(e.partition) ?? 0) < Number(e.high) - 1);
  while (behind().length > 0) {
    if (Date.now() > deadline)
      throw new Error(`partitions not applied: ${JSON.stringify(behind())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  await withStack({}, async (stack: Infra, lifecycle) => {
    const { databaseUrl } = await benchDatabases(stack.postgres);
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    lifecycle.onClose('pool', () => pool.end());
    await eventsTopic(stack, TOPIC, PARTITIONS);
    const admin = benchKafka(stack.kafka.brokers).admin();
    await admin.connect();
    lifecycle.onClose('admin', () => admin.disconnect());
    const ingest = await startService('producer-api', {
      KAFKA_BROKERS: stack.kafka.brokers,
      SCHEMA_REGISTRY_URL: stack.registry.url,
      EVENTS_TOPIC: TOPIC,
      PRODUCE_QUEUE_MAX: '200000',
      WORKERS: String(INGEST_WORKERS),
    });
    lifecycle.onClose('ingest API', () => ingest.stop());
    const members: ServiceProcess[] = [];
    lifecycle.onClose('projector members', async () => {
      await Promise.all(members.map((m) => m.stop()));
    });
    const addMember = async () => {
      members.push(
        await startService('consumer', {
          KAFKA_BROKERS: stack.kafka.brokers,
          SCHEMA_REGISTRY_URL: stack.registry.url,
          DATABASE_URL: databaseUrl,
          EVENTS_TOPIC: TOPIC,
          CONSUMER_GROUP: GROUP,
          MIGRATE_ON_START: 'false',
        }),
      );
    };
    await addMember();
    const watch = watchPositions({ pool, topic: TOPIC });
    lifecycle.onClose('positions watch', () => watch.stop());
    const ctx: Context = {
      ingestUrl: ingest.url,
      pool,
      watch,
      members,
      seed: 7,
      probes: 0,
      accepted: 0,
    };
    const rows: Record<string, unknown>[] = [];
    // The JIT, the broker's and Postgres's caches warm up here; reported, not modelled.
    rows.push(await phase(ctx, 'warm-up, 1 member', RATE));

    /** A steady phase during which the membership changes, and the change's own row. */
    const changing = async (name: string, change: () => Promise<void>) => {
      const at = Date.now();
      const before = members.length;
      let settled = 0;
      const row = await phase(ctx, name, RATE, async () => {
        await change();
        await caughtUp(ctx, admin);
        settled = Date.now();
      });
      rows.push(row);
      rows.push({
        kind: 'rebalance',
        phase: name,
        members: `${before} → ${members.length}`,
        'records written before it all applied after s': Number(((settled - at) / 1000).toFixed(2)),
        'longest pause s': longestPause(watch, at, settled),
        ...freshnessOf(at, settled),
      });
    };

    if (
      MEMBER_COUNTS.some((c, i) => !(c >= 1 && c <= PARTITIONS && c > (MEMBER_COUNTS[i - 1] ?? 0)))
    ) {
      throw new Error(
        `BENCH_SCALE_MEMBERS must rise, from 1 to ${PARTITIONS} (the partitions): ${MEMBER_COUNTS.join(',')}`,
      );
    }
    for (const count of MEMBER_COUNTS) {
      if (count > members.length) {
        await changing(`steady, ${members.length} → ${count} members`, async () => {
          const adding = count - members.length;
          for (let i = 0; i < adding; i += 1) await addMember();
        });
      } else {
        rows.push(await phase(ctx, `steady, ${count} members`, RATE));
      }
      const from = Date.now();
      rows.push(await phase(ctx, `step, ${count} members`, STEP_RATE));
      const stepEnd = Date.now();
      await caughtUp(ctx, admin);
      const drained = Date.now();
      const backlog = watch.appliedAt(drained) - watch.appliedAt(stepEnd);
      rows.push({
        kind: 'drain',
        phase: `after step, ${count} members`,
        members: members.length,
        'backlog offsets': backlog,
        'drained after s': Number(((drained - stepEnd) / 1000).toFixed(2)),
        'catch-up offsets/s': Math.round(backlog / Math.max(0.001, (drained - stepEnd) / 1000)),
        'from step start s': Number(((drained - from) / 1000).toFixed(1)),
      });
    }
    if (members.length >= 2) {
      await changing(`steady, one member leaves (SIGTERM)`, async () => {
        await members.pop()!.stop();
      });
    }
    if (members.length >= 2) {
      await changing(`steady, one member killed (SIGKILL)`, async () => {
        const victim = members.pop()!;
        cpuByPart();
        victim.child.kill('SIGKILL');
        await victim.stop();
      });
    }
    await caughtUp(ctx, admin);
    await watch.settled(60_000);
    fillFreshness(rows, watch);

    log('counting the topic apart from the projector');
    const topic = await countsFromTopic({
      brokers: stack.kafka.brokers,
      registryUrl: stack.registry.url,
      topic: TOPIC,
      expected: ctx.accepted + ctx.probes,
    });
    const compared = await compareReadModel(pool, topic.counts);
    const { rows: size } = await pool.query<{ bytes: string; domains: string }>(
      `SELECT pg_total_relation_size('domain_stats_v1')::text AS bytes,
              (SELECT count(*) FROM domain_stats_v1)::text AS domains`,
    );
    rows.push({
      kind: 'check',
      phase: 'read model against the topic',
      'events accepted (202)': ctx.accepted + ctx.probes,
      'records in the topic': topic.records,
      'domains in the read model': compared.domains,
      'domains that differ': compared.differing,
      'read model bytes per domain': Math.round(Number(size[0]!.bytes) / Number(size[0]!.domains)),
      'log bytes per record': Math.round(topicLogBytes(stack.kafka.logDir, TOPIC) / topic.records),
    });
    const cpus = os.cpus();
    // What bound the step loads: the machine's busy share, and each part's share of the CPU.
    const steps = rows.filter((r) => String(r.phase).startsWith('step'));
    const used = (r: Record<string, unknown>, part: Part) => Number(r[`${part} CPU µs/event`]);
    const total = steps.reduce((sum, r) => sum + PARTS.reduce((t, p) => t + used(r, p), 0), 0);
    const share = (part: Part) =>
      Math.round((100 * steps.reduce((sum, r) => sum + used(r, part), 0)) / total);
    const cpuBound = steps.every((r) => Number(r['CPU busy %']) >= 90);
    const busy = steps.map((r) => `${String(r['CPU busy %'])} %`).join(', ');
    const accounted = steps.map((r) => `${String(r['CPU accounted %'])} %`).join(', ');
    const notes = [
      `machine: ${os.availableParallelism()} cores (${cpus[0]?.model ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB; broker, registry, Postgres, ${INGEST_WORKERS} ingest API processes behind one port, the projector members and the load generator (autocannon, batches of ${BATCH}) share it`,
      `topic of ${PARTITIONS} partitions, Zipf-like domains over a 10,000,000-domain key space, ${PHASE_SECONDS} s per phase, steady ${RATE} events/s, step ${STEP_RATE} events/s`,
      `bound by: ${cpuBound ? 'CPU, every core busy' : 'not the CPU alone'} in the step phases (busy ${busy}, of which this benchmark's processes used ${accounted}: below about 85 %, other load shared the machine and the figures are low); their CPU went to ${PARTS.map((p) => `${p} ${share(p)} %`).join(', ')}`,
      "per event: per event of the load answered 202 in the phase; applied offsets: the read model's positions moved, commit markers of transactions included (one per partition a transaction wrote to)",
      'freshness: from the 202 of a probe PUT to the read model having applied the offset of its consistency token',
      'rebalance: from the change to every record written before it applied; a killed member holds its partitions until its session times out (KAFKA_SESSION_TIMEOUT_MS, 10 s)',
      ...compared.examples,
    ];
    report('scale', rows, notes);
    if (compared.differing > 0) {
      throw new Error(`the read model differs from the topic on ${compared.differing} domains`);
    }
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
