/**
 * Ingest benchmark: single PUTs and batched POSTs against the real ingest API, a real
 * broker and registry on this machine, next to Kafka's own ProducerPerformance tool with
 * the same record size in the same run (the baseline).
 *
 * Each load runs on one API process, then the largest ones on one process per core. The PUT
 * loads also run on a second process with consistency tokens off (buildApp's internal option):
 * what a token costs. A PUT load and a batched load also run on a process with tracing on
 * (OTEL_EXPORTER_OTLP_ENDPOINT pointing at a real Jaeger on this machine) beside one with
 * tracing off, the baseline: what tracing costs. Single PUTs at 64 connections also run on a
 * bare fastify server answering 202 with no work (bare-fastify.ts), their baseline: what the
 * API's work costs over the HTTP layer's.
 *
 *   npm run bench:ingest   (BENCH_SECONDS=10 per scenario, BENCH_PRODUCER_WORKERS=<cores>,
 *                           BENCH_ONLY=put|bare|batch|tracing for one part alone; bare:
 *                           the single PUTs beside the bare fastify server only)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startJaeger } from '@catchall/scripts';
import { createTopic, eventsTopic } from './lib/preload';
import { report } from './lib/report';
import { startService, withStack } from './lib/stack';
import { ensureWrk, wrkLoad } from './lib/wrk';

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BATCH = 1000;
/** Ingest API processes of the second round (its WORKERS): one per core by default. */
const WORKERS = Number(process.env.BENCH_PRODUCER_WORKERS ?? os.availableParallelism());

async function producerPerformance(
  java: string,
  libs: string,
  brokers: string,
  recordSize: number,
) {
  const topic = 'perf-baseline';
  await createTopic(brokers, topic, 12);
  const records = Math.max(500_000, Number(process.env.BENCH_JAVA_RECORDS ?? 2_000_000));
  const { stdout } = await run(
    java,
    [
      '-Xmx512m',
      '-cp',
      `${libs}/*`,
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(records),
      '--record-size',
      String(recordSize),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${brokers}`,
      'acks=all',
      'enable.idempotence=true',
      'linger.ms=2',
      'batch.size=262144',
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const last = stdout.trim().split('\n').pop() ?? '';
  const match = /([\d.]+) records\/sec.*?(\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th/.exec(last);
  if (!match) throw new Error(`unexpected ProducerPerformance output: ${last}`);
  return {
    'items/s': Math.round(Number(match[1])),
    p50: Number(match[2]),
    p95: Number(match[3]),
    p99: Number(match[4]),
  };
}

async function main(): Promise<void> {
  const topic = 'bench-events';
  ensureWrk((m) => console.log(`[bench] ${m}`));
  await withStack({}, async (infra, lifecycle) => {
    const encoder = await eventsTopic(infra, topic, 12);
    /**
     * `tokens: false`: the same API with consistency tokens off (their cost); `tracing`:
     * extra settings (tracing on).
     */
    const startProducer = (workers: number, tokens = true, tracing: Record<string, string> = {}) =>
      startService(
        'producer-api',
        {
          KAFKA_BROKERS: infra.kafka.brokers,
          SCHEMA_REGISTRY_URL: infra.registry.url,
          EVENTS_TOPIC: topic,
          PRODUCE_QUEUE_MAX: '200000',
          WORKERS: String(workers),
          ...(process.env.PRODUCE_BATCH_MAX
            ? { PRODUCE_BATCH_MAX: process.env.PRODUCE_BATCH_MAX }
            : {}),
          ...tracing,
        },
        // For profiling: BENCH_PRODUCER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
        (process.env.BENCH_PRODUCER_NODE_ARGS ?? '').split(' ').filter(Boolean),
        tokens ? undefined : path.join(__dirname, 'lib', 'producer-without-tokens.js'),
      );
    let producer = await startProducer(1);
    lifecycle.onClose('ingest API', () => producer.stop());
    const recordSize = encoder.encode({
      eventId: '3f2b1c5e-8d4a-4f6b-9c1e-2a7d5e8f9b0c',
      domain: 'd123456.example',
      type: 'delivered',
      occurredAt: Date.now(),
      source: null,
    }).length;

    /** A load, and the API's CPU time per event during it (the figure least moved by noise). */
    const measured = async (load: () => ReturnType<typeof wrkLoad>, service = producer) => {
      const cpuBefore = service.cpuSeconds();
      const row = await load();
      const cpu = service.cpuSeconds() - cpuBefore;
      return {
        ...row,
        'API CPU µs/event': Math.round((cpu * 1e7) / (row['items/s'] * SECONDS)) / 10,
      };
    };
    const single = (connections: number, url = producer.url, seconds = SECONDS) =>
      wrkLoad({
        url,
        connections,
        seconds,
        method: 'PUT',
        path: '/events/d{key}.example/delivered',
        keys: 1_000_000,
      });
    const bodies = Array.from({ length: 16 }, (_, b) =>
      JSON.stringify(
        Array.from({ length: BATCH }, (_, i) => ({
          domain: `d${b * BATCH + i}.example`,
          type: i % 10 === 0 ? 'bounced' : 'delivered',
        })),
      ),
    );
    /** Batches; `minimal`: with Prefer: return=minimal (the count only, no id per event). */
    const batched = (connections: number, minimal = false) =>
      wrkLoad({
        url: producer.url,
        connections,
        seconds: SECONDS,
        method: 'POST',
        path: '/events',
        bodies,
        ...(minimal ? { headers: { Prefer: 'return=minimal' } } : {}),
        itemsPerRequest: BATCH,
      });
    const MINIMAL = 'Prefer: return=minimal';

    /**
     * Tracing on beside tracing off (the baseline), both single-process APIs on the same
     * broker: a PUT and a batched load, each on, off, off, on (a drift of the machine's load
     * weighs on both alike), spans exported to a real Jaeger on this machine.
     */
    const measureTracing = async (into: Record<string, unknown>[]): Promise<string[]> => {
      const jaegerDir = mkdtempSync(path.join(os.tmpdir(), 'catchall-bench-jaeger-'));
      lifecycle.onClose('jaeger folder', () => rmSync(jaegerDir, { recursive: true, force: true }));
      const jaeger = await startJaeger({
        dir: jaegerDir,
        log: (m) => console.log(`[bench] ${m}`),
      });
      lifecycle.onClose('jaeger', () => jaeger.stop());
      const traced = await startProducer(1, true, {
        OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
      });
      lifecycle.onClose('ingest API with tracing', () => traced.stop());
      const lines: string[] = [];
      const loads = [
        {
          name: 'PUT, 32 connections',
          load: (url: string) => single(32, url),
        },
        {
          name: `POST ${BATCH}/request, 8 connections`,
          load: (url: string) =>
            wrkLoad({
              url,
              connections: 8,
              seconds: SECONDS,
              method: 'POST',
              path: '/events',
              bodies,
              itemsPerRequest: BATCH,
            }),
        },
      ];
      for (const service of [producer, traced]) await single(32, service.url, 3);
      for (const { name, load } of loads) {
        const sums = { on: { rate: 0, cpu: 0 }, off: { rate: 0, cpu: 0 } };
        for (const [run, on] of [
          [1, true],
          [1, false],
          [2, false],
          [2, true],
        ] as const) {
          const service = on ? traced : producer;
          const row = await measured(() => load(service.url), service);
          const label = on ? 'tracing on' : 'tracing off (baseline)';
          into.push({ scenario: `${name}, ${label} (run ${run})`, ...row });
          const sum = sums[on ? 'on' : 'off'];
          sum.rate += row['items/s'] / 2;
          sum.cpu += row['API CPU µs/event'] / 2;
        }
        const { on, off } = sums;
        lines.push(
          `${name}, tracing on / off (mean of 2 runs each): ${(on.rate / off.rate).toFixed(3)} (${Math.round(on.rate)} / ${Math.round(off.rate)} events/s), API CPU ${on.cpu.toFixed(1)} / ${off.cpu.toFixed(1)} µs/event (${(on.cpu / off.cpu).toFixed(3)})`,
        );
      }
      await traced.stop();
      await jaeger.stop();
      return lines;
    };

    /**
     * Single PUTs at 64 connections beside the same load on a bare fastify server (its own
     * process, one like this round's API, answering 202 with no work: bare-fastify.ts), the
     * baseline, in the order bare, API, API, bare (a drift of the machine's load weighs on
     * both alike). Returns the note giving the API's rate as a ratio of the bare server's.
     */
    const measureBareFastify = async (into: Record<string, unknown>[]): Promise<string> => {
      const c = 64;
      const bare = await startService('bare fastify', {});
      lifecycle.onClose('bare fastify', () => bare.stop());
      // Warmed as long as a measured run: a shorter warm-up left the API's first run a tenth
      // or more below its second (the JIT of kafkajs's paths, the broker's own).
      for (const service of [bare, producer]) await single(c, service.url, SECONDS);
      const runs: Record<'api' | 'bare', Awaited<ReturnType<typeof measured>>[]> = {
        api: [],
        bare: [],
      };
      for (const [run, isBare] of [
        [1, true],
        [1, false],
        [2, false],
        [2, true],
      ] as const) {
        const service = isBare ? bare : producer;
        const row = await measured(() => single(c, service.url), service);
        const scenario = isBare
          ? `bare fastify, PUT answered 202 with no work, ${c} connections (baseline, run ${run})`
          : `PUT, ${c} connections (run ${run})`;
        into.push({ scenario, ...row });
        runs[isBare ? 'bare' : 'api'].push(row);
      }
      await bare.stop();
      const mean = (rs: { 'items/s': number }[]) =>
        rs.reduce((sum, r) => sum + r['items/s'], 0) / rs.length;
      const figures = (rs: typeof runs.api) =>
        rs.map((r) => `${r['items/s']}/s, p50 ${r.p50} p95 ${r.p95} p99 ${r.p99} ms`).join('; ');
      const [api, base] = [mean(runs.api), mean(runs.bare)];
      return `single PUT at ${c} connections / bare fastify (mean of 2 runs each): ${(api / base).toFixed(3)} (${Math.round(api)} / ${Math.round(base)} PUT/s); ingest API ${figures(runs.api)}; bare fastify ${figures(runs.bare)}`;
    };

    const rows: Record<string, unknown>[] = [];
    const only = process.env.BENCH_ONLY;
    /** The single PUTs against the bare fastify server, as the token cost's. */
    const bareCost: string[] = [];
    /** PUT figures with tokens beside the same loads without: what a token costs. */
    const tokenCost: string[] = [];
    /** Tracing on / off figures, as the token cost's. */
    const tracingCost: string[] = [];
    if (only === undefined || only === 'tracing') {
      tracingCost.push(...(await measureTracing(rows)));
    }
    if (only === 'bare') bareCost.push(await measureBareFastify(rows));
    if (only === undefined || only === 'put') {
      // The same API without tokens, beside it: each load runs on one, then at once on the
      // other, both warmed up first, so that the machine's drifting noise hits both alike.
      const withoutTokens = await startProducer(1, false);
      lifecycle.onClose('ingest API without tokens', () => withoutTokens.stop());
      for (const service of [producer, withoutTokens]) await single(32, service.url, 3);
      for (const c of [8, 32, 128]) {
        // On, off, off, on: a drift of the machine's load over the four weighs on both alike.
        const sums = { on: { rate: 0, cpu: 0 }, off: { rate: 0, cpu: 0 } };
        for (const [run, tokens] of [
          [1, true],
          [1, false],
          [2, false],
          [2, true],
        ] as const) {
          const row = tokens
            ? await measured(() => single(c))
            : await measured(() => single(c, withoutTokens.url), withoutTokens);
          const label = tokens ? 'consistency tokens on' : 'consistency tokens off';
          rows.push({ scenario: `PUT, ${c} connections, ${label} (run ${run})`, ...row });
          const sum = sums[tokens ? 'on' : 'off'];
          sum.rate += row['items/s'] / 2;
          sum.cpu += row['API CPU µs/event'] / 2;
        }
        const { on, off } = sums;
        tokenCost.push(
          `PUT at ${c} connections, tokens on / off (mean of 2 runs each): ${(on.rate / off.rate).toFixed(3)} (${Math.round(on.rate)} / ${Math.round(off.rate)} events/s), API CPU ${on.cpu.toFixed(1)} / ${off.cpu.toFixed(1)} µs/event (${(on.cpu / off.cpu).toFixed(3)})`,
        );
      }
      await withoutTokens.stop();
      bareCost.push(await measureBareFastify(rows));
    }
    if (only === undefined || only === 'batch') {
      for (const c of [2, 8]) {
        rows.push({
          scenario: `POST ${BATCH}/request, ${c} connections`,
          ...(await measured(() => batched(c))),
        });
      }
      rows.push({
        scenario: `POST ${BATCH}/request, ${MINIMAL}, 8 connections`,
        ...(await measured(() => batched(8, true))),
      });
    }
    if (WORKERS > 1 && only !== 'tracing' && only !== 'bare') {
      // The same loads on one process per core (WORKERS), each with its own producer.
      await producer.stop();
      producer = await startProducer(WORKERS);
      if (only !== 'batch') {
        rows.push({
          scenario: `PUT, ${WORKERS} workers, 128 connections`,
          ...(await measured(() => single(128))),
        });
      }
      if (only !== 'put') {
        for (const c of [8, 16]) {
          rows.push({
            scenario: `POST ${BATCH}/request, ${WORKERS} workers, ${c} connections`,
            ...(await measured(() => batched(c))),
          });
        }
        rows.push({
          scenario: `POST ${BATCH}/request, ${MINIMAL}, ${WORKERS} workers, 16 connections`,
          ...(await measured(() => batched(16, true))),
        });
      }
    }
    // Stopped before the baseline runs (stopping again at the end is a no-op).
    await producer.stop();
    if (only === 'tracing') {
      // Tracing's baseline is the same API with tracing off, measured beside it.
      report('ingest', rows, [
        `record size ${recordSize} bytes; ${SECONDS} s per scenario; broker, API, Jaeger and load generator share this machine (${os.cpus().length} cores)`,
        'API CPU µs/event: CPU time of the ingest API (all its processes) per event accepted',
        ...tracingCost,
      ]);
      return;
    }
    if (only === 'bare') {
      report('ingest', rows, [
        `record size ${recordSize} bytes; ${SECONDS} s per scenario; broker, API and load generator share this machine (${os.cpus().length} cores)`,
        "API CPU µs/event: CPU time of the ingest API per event accepted; on the bare fastify rows, that server's",
        ...bareCost,
      ]);
      return;
    }
    const java = await producerPerformance(
      infra.kafka.java,
      infra.kafka.libs,
      infra.kafka.brokers,
      recordSize,
    );
    rows.push({
      scenario: `Kafka ProducerPerformance (${recordSize} B records, baseline)`,
      ...java,
    });

    const best = (minimal: boolean) =>
      Math.max(
        ...rows
          .filter((r) => String(r.scenario).startsWith('POST'))
          .filter((r) => String(r.scenario).includes(MINIMAL) === minimal)
          .map((r) => Number(r['items/s'])),
      );
    const ratio = (rate: number) =>
      `${(rate / java['items/s']).toFixed(2)} (${rate} / ${java['items/s']} events/s)`;
    // BENCH_ONLY=put runs no batch: no ratio to give then.
    const batchRatios = rows.some((r) => String(r.scenario).startsWith('POST'))
      ? [
          `batched ingest / Kafka ProducerPerformance = ${ratio(best(false))}`,
          `batched ingest with ${MINIMAL} / Kafka ProducerPerformance = ${ratio(best(true))}`,
        ]
      : [];
    report('ingest', rows, [
      `record size ${recordSize} bytes; ${SECONDS} s per scenario; broker, API and load generator share this machine (${os.cpus().length} cores)`,
      ...batchRatios,
      "API CPU µs/event: CPU time of the ingest API (all its processes) per event accepted; on the bare fastify rows, that server's",
      'latencies in ms; ProducerPerformance latencies are per record, from send to ack',
      ...bareCost,
      ...tokenCost,
      ...tracingCost,
    ]);
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
