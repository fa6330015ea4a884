/**
 * The capacity model: from the figures the benchmarks wrote under bench/results/ (the
 * newest of bench:ingest, bench:catch-up and bench:scale) and the stated assumptions below,
 * what a deployment needs for 100,000 events/s over 10,000,000 domains and for ten times
 * that, when one Postgres primary stops being enough, and the model's prediction for the
 * benchmark machine next to what bench:scale measured on it. Writes docs/capacity.md.
 *
 *   npm run capacity                  (--results <dir>: other results; --out <file>)
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  MODEL_WORKLOADS,
  foldRatio,
  machineCapacity,
  size,
  type Assumptions,
  type MeasuredInputs,
  type ModelWorkload,
  type Scenario,
} from './lib/capacity-model';
import { ASSUMPTIONS, ASSUMPTION_TEXT } from './lib/capacity-assumptions';

const ROOT = path.resolve(__dirname, '..', '..');

const SCENARIOS: Scenario[] = [
  {
    name: '100,000 events/s over 10,000,000 domains',
    eventsPerSecond: 100_000,
    domains: 10_000_000,
  },
  {
    name: '1,000,000 events/s over 100,000,000 domains (ten times both)',
    eventsPerSecond: 1_000_000,
    domains: 100_000_000,
  },
];

type Row = Record<string, unknown>;
interface Result {
  file: string;
  rows: Row[];
  notes: string[];
}

function newest(dir: string, name: string): Result {
  const files = (existsSync(dir) ? readdirSync(dir) : [])
    .filter((f) => f.startsWith(`${name}-`) && f.endsWith('.json'))
    .sort();
  const file = files.at(-1);
  if (!file) throw new Error(`no ${name} results in ${dir}: run npm run bench:${name} first`);
  const { rows, notes } = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Result;
  return { file, rows, notes };
}

function figure(result: Result, row: Row | undefined, column: string): number {
  const value = row?.[column];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(
      `${result.file} has no figure "${column}"${row ? ` in row ${JSON.stringify(row.workload ?? row.scenario ?? row.phase)}` : ''}: run its benchmark again`,
    );
  }
  return value;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The model's inputs from the three benchmarks' newest results. */
function inputsFrom(ingest: Result, catchUp: Result, scale: Result) {
  const loadedPut = () => {
    const prefix = 'PUT';
    // The defaults: consistency tokens on, full answers (not `Prefer: return=minimal`).
    const rows = ingest.rows.filter(
      (r) =>
        String(r.scenario).startsWith(prefix) &&
        !/tokens off|return=minimal/.test(String(r.scenario)),
    );
    const best = rows.sort((a, b) => Number(b['items/s']) - Number(a['items/s']))[0];
    return figure(ingest, best, 'API CPU µs/event');
  };
  const recordBytes = Number(/record size (\d+) bytes/.exec(ingest.notes.join('\n'))?.[1]);
  if (!Number.isFinite(recordBytes))
    throw new Error(`${ingest.file} does not give the record size`);
  const workloadRow = (w: string) => catchUp.rows.find((r) => r.workload === w);
  const per = (column: string) =>
    Object.fromEntries(
      MODEL_WORKLOADS.map((w) => [w, figure(catchUp, workloadRow(w), column)]),
    ) as Record<ModelWorkload, number>;
  const idRows = catchUp.rows.filter((r) => String(r.workload).endsWith('client ids'));
  const steps = scale.rows.filter((r) => r.kind === 'phase' && String(r.phase).startsWith('step'));
  if (steps.length === 0) throw new Error(`${scale.file} has no step phase`);
  const zipfIds = catchUp.rows.find((r) => r.workload === 'zipf, client ids');
  const perRow = (column: string) =>
    mean(
      steps.map(
        (r) => figure(scale, r, column) / figure(scale, r, 'read model rows written per event'),
      ),
    );
  const check = scale.rows.find((r) => r.kind === 'check');
  const inputs: MeasuredInputs = {
    ingestBatchUs: mean(steps.map((r) => figure(scale, r, 'ingest API CPU µs/event'))),
    ingestPutUs: loadedPut(),
    kafkaUs: mean(steps.map((r) => figure(scale, r, 'Kafka CPU µs/event'))),
    projectorUs: per('projector CPU µs/event'),
    projectorClientIdUs: figure(catchUp, zipfIds, 'projector CPU µs/event'),
    rowsPerSecondPerConnection: figure(
      catchUp,
      workloadRow('uniform'),
      'Postgres ceiling rows/s per connection',
    ),
    postgresUsPerRow: perRow('Postgres CPU µs/event'),
    walBytesPerRow: perRow('WAL bytes per event'),
    bytesPerDomain: figure(scale, check, 'read model bytes per domain'),
    mbPerMillionIds: mean(idRows.map((r) => figure(catchUp, r, 'MB per million ids'))),
    otherUs: mean(
      steps.map(
        (r) => figure(scale, r, 'load CPU µs/event') + figure(scale, r, 'registry CPU µs/event'),
      ),
    ),
    recordBytes,
  };
  if (idRows.length === 0) throw new Error(`${catchUp.file} has no load with client ids`);
  return { inputs, steps, check: check! };
}

/** A CPU cost per event or row, with what one core does at that cost. */
const perCore = (us: number) => `${n(us, 1)} µs (${n(1e6 / us)}/s per core)`;
const n = (x: number, digits = 0) =>
  x.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const table = (head: string[], rows: (string | number)[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`]
    .concat(rows.map((r) => `| ${r.join(' | ')} |`))
    .join('\n');

function main(): void {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const dir = path.resolve(option('--results') ?? path.join(ROOT, 'bench', 'results'));
  const out = path.resolve(option('--out') ?? path.join(ROOT, 'docs', 'capacity.md'));
  const ingest = newest(dir, 'ingest');
  const catchUp = newest(dir, 'catch-up');
  const scale = newest(dir, 'scale');
  const { inputs, steps, check } = inputsFrom(ingest, catchUp, scale);
  const cores = Number(/machine: (\d+) cores/.exec(scale.notes.join('\n'))?.[1]);
  const doc = render({
    inputs,
    steps,
    check,
    cores,
    files: [ingest, catchUp, scale].map((r) => r.file),
    scale,
  });
  writeFileSync(out, doc);
  console.log(doc);
  console.log(`\nwritten to ${path.relative(process.cwd(), out)}`);
}

function render(m: {
  inputs: MeasuredInputs;
  steps: Row[];
  check: Row;
  cores: number;
  files: string[];
  scale: Result;
}): string {
  const { inputs } = m;
  const a = ASSUMPTIONS;
  const lines: string[] = [];
  // Blocks apart: a line right after a table would be read as one of its rows.
  const push = (...xs: string[]) => {
    for (const x of xs) lines.push(x, '');
  };
  push(
    '# Capacity model',
    `Written by \`npm run capacity\` from the benchmark results ${m.files.map((f) => `\`${f}\``).join(', ')} (bench/results/, kept out of git). Run the three benchmarks and this command again to refresh it; edit the assumptions in \`bench/capacity.ts\`, never the figures here.`,
  );
  push(
    '## Measured inputs',
    table(
      ['figure', 'value', 'from'],
      [
        [
          'ingest API CPU per event, batches of 100',
          perCore(inputs.ingestBatchUs),
          'bench:scale, step phases (clients sending batches of 100; batches of 1,000 cost less, see bench:ingest)',
        ],
        [
          'ingest API CPU per event, single `PUT`s',
          perCore(inputs.ingestPutUs),
          'bench:ingest, its most loaded `PUT` run',
        ],
        [
          'broker CPU per event (replication 1)',
          perCore(inputs.kafkaUs),
          "bench:scale, step phases (the ingest API's transactions over 24 partitions)",
        ],
        ...MODEL_WORKLOADS.map((w) => [
          `projector CPU per event, ${w}`,
          perCore(inputs.projectorUs[w]),
          'bench:catch-up',
        ]),
        [
          'Postgres rows/s per connection',
          n(inputs.rowsPerSecondPerConnection),
          'bench:catch-up, the Postgres ceiling on the uniform load (4 connections; nearly a row per event)',
        ],
        [
          'Postgres CPU per read-model row written',
          perCore(inputs.postgresUsPerRow),
          'bench:scale, step phases',
        ],
        [
          'WAL per read-model row written',
          `${n(inputs.walBytesPerRow)} bytes`,
          'bench:scale, step phases',
        ],
        [
          'read model per domain',
          `${n(inputs.bytesPerDomain)} bytes`,
          'bench:scale, table and index',
        ],
        ['event ids', `${n(inputs.mbPerMillionIds, 1)} MB per million`, 'bench:catch-up'],
        ['Avro value of an event', `${n(inputs.recordBytes)} bytes`, 'bench:ingest'],
      ],
    ),
  );
  push(
    '## Assumptions',
    table(
      ['assumption', 'value'],
      (Object.keys(a) as (keyof Assumptions)[]).map((k) => [ASSUMPTION_TEXT[k], String(a[k])]),
    ),
    "Key distributions: the benchmarks' own (bench/lib/workloads.ts): Zipf-like (log-uniform ranks, few hot domains), uniform, and heavy (up to 2,500 events per domain). The fold ratio, the rows Postgres writes per event, is computed from them for the events of one flush interval at each rate.",
  );
  for (const scenario of SCENARIOS) {
    const sized = MODEL_WORKLOADS.map((w) => size(inputs, a, scenario, w));
    const row = (label: string, f: (s: (typeof sized)[number]) => string) => [
      label,
      ...sized.map(f),
    ];
    push(
      `## ${scenario.name}`,
      table(
        ['', ...MODEL_WORKLOADS],
        [
          row('Kafka brokers for the load (bound by)', (s) => `${s.brokers} (${s.brokersBy})`),
          row(
            `Kafka brokers to keep ${a.historyDays} days on their disks (without tiered storage)`,
            (s) => String(s.brokersForHistory),
          ),
          row('partitions of the events topic', (s) => String(s.partitions)),
          row('Kafka storage growth, replicated', (s) => `${n(s.kafkaTbPerDay, 2)} TB a day`),
          row(`Kafka storage after ${a.historyDays} days`, (s) => `${n(s.kafkaStorageTb, 0)} TB`),
          row('ingest API pods, batches', (s) => String(s.ingestPods)),
          row('ingest API pods, every event a single `PUT`', (s) => String(s.ingestPodsSinglePuts)),
          row('projector members', (s) => String(s.projectorMembers)),
          row('fold ratio (rows per event)', (s) => n(s.foldRatio, 3)),
          row('Postgres rows/s after folding', (s) => n(s.postgresRowsPerSecond)),
          row('Postgres connections busy upserting', (s) => n(s.postgresBusyConnections, 1)),
          row('Postgres primary cores', (s) => n(s.postgresCores, 1)),
          row('WAL', (s) => `${n(s.walMbPerSecond, 1)} MB/s`),
          row('read model', (s) => `${n(s.readModelGb, 1)} GB`),
          row('read model with a rebuild beside it', (s) => `${n(2 * s.readModelGb, 1)} GB`),
          row(
            'a rebuild (one `replay rebuild` process): hours per 30 days of history',
            (s) => `${n(s.rebuildHoursPerMonth, 0)} h`,
          ),
          row(
            `the same after ${a.historyDays} days: events, days`,
            (s) => `${n(s.rebuildEvents / 1e9, 0)} billion, ${n(s.rebuildHours / 24, 0)} days`,
          ),
          row(
            'share of the largest primary (limit)',
            (s) => `${n(100 * s.primaryShare)} % (${s.primaryLimit})`,
          ),
        ],
      ),
      clientIds(sized),
      nextBottleneck(sized, scenario),
    );
  }
  push('## When one Postgres primary stops being enough', ...primaryLimits(inputs));
  push('## Checked against the multi-process run', ...checked(m));
  return `${lines.join('\n').trim()}\n`;
}

/** What ids the clients chose add: rows, storage, members (their Postgres cost per row is not measured). */
function clientIds(sized: ReturnType<typeof size>[]): string {
  const s = sized[0]!;
  return `**If every event carried a client id** (\`Idempotency-Key\`, \`eventId\`): each id is a row of its own in \`event_ids\`, ${n(s.eventIdRowsPerSecond)} rows/s more for the primary on every load, besides the folded rows above, and ${n(s.eventIdsGb, 0)} GB kept for the dedupe window; the Zipf-like load then needs ${s.projectorMembersClientIds} projector members (${n(ASSUMPTIONS.utilization * 100)} % busy). What an id row costs Postgres in CPU and WAL is not measured by the benchmarks (bench:catch-up measures the whole catch-up only: with ids, 0.5 to 0.6 of its speed without, the heavy load 0.3), so the primary's figures above leave them out.`;
}

function nextBottleneck(sized: ReturnType<typeof size>[], scenario: Scenario): string {
  const worst = sized.reduce((w, s) => (s.primaryShare > w.primaryShare ? s : w));
  const members = Math.max(...sized.map((s) => s.projectorMembers));
  const partitions = Math.min(...sized.map((s) => s.partitions));
  const over = worst.primaryShare > 1;
  return [
    `**Next bottleneck.** Brokers, ingest pods and projector members scale out; the Postgres primary does not. At ${n(scenario.eventsPerSecond)} events/s the ${worst.workload} load takes ${n(100 * worst.primaryShare)} % of the largest primary's ${worst.primaryLimit === 'CPU' ? 'cores' : 'WAL rate'} in the assumptions${over ? ': **more than one primary can write, which the product cannot serve today** (see below)' : ''}.`,
    `The projector members (${members} at most here) stay below the partitions (${partitions} at least), which cap them. The brokers' disks grow with the history the topic keeps, not with the load: without tiered storage (KIP-405) moving old segments out, after a year they, not the CPU, set how many brokers there are.`,
    `**Rebuilds do not scale out yet.** A rebuild replays every event the topic holds with one \`replay rebuild\` process: ${n(Math.max(...sized.map((s) => s.rebuildHoursPerMonth)), 0)} hours per month of history at this rate, ${n(Math.max(...sized.map((s) => s.rebuildHours)) / 24, 0)} days after ${ASSUMPTIONS.historyDays} days. At this scale a rebuild needs members per partition, as the projector has, or to start from a snapshot of the read model rather than from the first event; neither exists yet.`,
  ].join(' ');
}

function primaryLimits(inputs: MeasuredInputs): string[] {
  const a = ASSUMPTIONS;
  const lines = MODEL_WORKLOADS.map((w) => {
    // The rate at which the largest primary's CPU or WAL is used up, over 10,000,000 domains.
    let rate = 100_000;
    for (let i = 0; i < 6; i += 1) {
      const s = size(inputs, a, { name: '', eventsPerSecond: rate, domains: 10_000_000 }, w);
      rate = rate / s.primaryShare;
    }
    const s = size(inputs, a, { name: '', eventsPerSecond: rate, domains: 10_000_000 }, w);
    if (rate > 10_000_000) {
      return `- ${w}: more than 10,000,000 events/s over 10,000,000 domains: its events fold to so few rows (${n(s.foldRatio, 4)} per event) that the primary is not what limits it.`;
    }
    return `- ${w}: about ${n(rate, 0)} events/s over 10,000,000 domains (${n(s.postgresRowsPerSecond)} rows/s, limit: ${s.primaryLimit}).`;
  });
  return [
    `The primary writes every folded row, and only it can: the projector's transaction holds the counts, the positions and the event ids together (exactly once). With the measured cost per row and a primary of ${a.postgresMaxCores} cores (or ${a.postgresMaxWalMbPerSecond} MB/s of WAL), each used up to ${a.utilization * 100} %, one primary takes, for events without client ids:`,
    lines.join('\n'),
    'What the product does before and after that point:',
    [
      '- **Reads first.** Lookups and listings go to read replicas: the query API only reads, so its `DATABASE_URL` may name a streaming standby (CloudNativePG\'s `-ro` service; README, "Read replicas"). A read with a consistency token waits until the standby has replayed the offsets it names, so read-your-writes holds on a replica too. Each replica adds the lookups of one more server and takes nothing from the primary but WAL shipping.',
      '- **Fewer rows per event.** `FLUSH_INTERVAL_MS` trades freshness for folding: doubling it lowers the rows written per event for loads with hot domains (see the fold ratios above), not for the uniform one.',
      "- **Then the writes.** The read model is keyed by domain, and a domain lives on one Kafka partition. Past one primary, the read model is split by partition ranges over several Postgres clusters (or a distributed Postgres such as Citus with `domain_stats` distributed by domain): each projector member writes only the clusters of its partitions, each flush stays one local transaction, and the query API finds a domain's cluster by the same murmur2 partitioner the producers use. That split is designed, not built. Adding partitions moves domains between partitions, and so between clusters: the split needs the topic's partitions fixed for good (sized for growth from the start) or a move of the rows with them. Until it exists, one primary is the product's ceiling (each scenario above says whether it is past it).",
    ].join('\n'),
  ];
}

function checked(m: {
  inputs: MeasuredInputs;
  steps: Row[];
  check: Row;
  cores: number;
  scale: Result;
}): string[] {
  const predicted = machineCapacity(m.inputs, ASSUMPTIONS, m.cores, 'zipf', 10_000_000);
  const measured = Math.max(...m.steps.map((r) => Number(r['accepted events/s'])));
  const steady = m.scale.rows.filter(
    (r) => r.kind === 'phase' && String(r.phase).startsWith('steady'),
  );
  const steadyRate = Number(steady[0]?.['offered events/s'] ?? 10_000);
  const measuredFold = mean(steady.map((r) => Number(r['read model rows written per event'])));
  const modelFold = foldRatio(
    'zipf',
    (steadyRate * ASSUMPTIONS.flushIntervalMs) / 1000,
    10_000_000,
  );
  const rebalances = m.scale.rows.filter((r) => r.kind === 'rebalance');
  const counts = m.steps.map((r) => Number(r.members));
  const joined = steady.filter((r) => String(r.phase).includes('→')).map((r) => Number(r.members));
  const busy = m.steps.map((r) => Number(r['CPU busy %']));
  const accounted = m.steps.map((r) => Number(r['CPU accounted %']));
  const freshP99 = m.steps.map((r) => Number(r['freshness p99 ms']));
  const rates = m.steps.map((r) => Number(r['accepted events/s']));
  const falling = rates.every((x, i) => i === 0 || x <= rates[i - 1]!);
  const fresher = freshP99.every((x, i) => i === 0 || x <= freshP99[i - 1]!);
  return [
    `bench:scale ran every part on one machine of ${m.cores} cores: the broker, the registry, Postgres, ingest API processes behind one port, ${counts.join(', ')} projector members over 24 partitions, and the load generator. The model, fed the per-event costs above (the projector's from bench:catch-up, the others from this run), predicts for that machine:`,
    table(
      ['', 'model', 'measured (bench:scale)'],
      [
        [
          'events/s with every core busy (Zipf-like)',
          n(predicted.eventsPerSecond),
          `${n(measured)} (the best step phase)`,
        ],
        [
          'CPU per event, all parts',
          `${n(predicted.usPerEvent, 1)} µs`,
          `${n((m.cores * 1e6) / measured, 1)} µs (cores / events/s)`,
        ],
        [
          `read-model rows per event at ${n(steadyRate)} events/s`,
          n(modelFold, 3),
          `${n(measuredFold, 3)} (steady phases)`,
        ],
      ],
    ),
    `Where they differ: the projector's cost comes from catch-up, where fixed costs per flush spread over more events than at the step load's rates, and more members on the same cores cost more each; events keep arriving while a flush runs, so a measured flush folds more than one interval's events. The step phases kept the machine ${busy.join(' %, ')} % busy, of which the benchmark's own processes used ${accounted.join(' %, ')} %: ${busy.every((b) => b >= 90) ? `bound by CPU${accounted.every((x) => x >= 85) ? ', all parts sharing it, not by any one of them' : '; part of the CPU went to processes outside the benchmark, so its figures are low'}` : 'not bound by CPU alone'}.`,
    `Per member count: the steady phase at the load the run offered${joined.length > 0 ? ` (for ${joined.join(' and ')} members, the phase in which they joined)` : ''}, then the step load beyond what the machine takes. ${falling ? 'Each member more took fewer events in the step: on the same cores a member costs CPU of its own (fetches, heartbeats, connections).' : 'The step took more events with more members.'} ${fresher ? 'Freshness under the step load improved with members: more partitions flush side by side.' : 'Freshness under the step load did not improve with every member added.'}`,
    table(
      [
        'members',
        'steady: freshness p50 / p99',
        'step: events/s accepted',
        'step: freshness p50 / p99',
      ],
      m.steps.map((step) => {
        const members = Number(step.members);
        const calm = steady.find((r) => Number(r.members) === members);
        const fresh = (r: Row | undefined) =>
          r ? `${n(Number(r['freshness p50 ms']))} / ${n(Number(r['freshness p99 ms']))} ms` : '';
        return [members, fresh(calm), n(Number(step['accepted events/s'])), fresh(step)];
      }),
    ),
    rebalances.length > 0
      ? table(
          [
            'membership change',
            'records written before it all applied after',
            'longest pause',
            'freshness p99 meanwhile',
          ],
          rebalances.map((r) => [
            String(r.phase).includes('→')
              ? String(r.phase).replace(/^steady, /, '')
              : `${String(r.phase).replace(/^steady, /, '')}, ${String(r.members)}`,
            `${n(Number(r['records written before it all applied after s']), 2)} s`,
            `${n(Number(r['longest pause s']), 2)} s`,
            `${n(Number(r['freshness p99 ms']))} ms`,
          ]),
        )
      : 'The run had no membership change.',
    `The read model equalled the counts computed from the topic on ${n(Number(m.check['domains in the read model']))} domains (${n(Number(m.check['domains that differ']))} differing).`,
  ];
}

try {
  main();
} catch (err) {
  // What is missing, said once: no stack for a result not there yet.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
