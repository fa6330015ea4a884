/**
 * The capacity model: from the figures the benchmarks wrote under bench/results/ (the
 * newest of bench:ingest, bench:catch-up and bench:scale) and the stated assumptions below,
 * what a deployment needs for 100,000 events/s over 10,000,000 domains and for ten times
 * that, when one Postgres primary stops being enough, and the model's prediction for the
 * benchmark machine next to what bench:scale measured on it. Writes docs/capacity.md.
 *
 *   npm run capacity                  (--results <dir>: other results; --out <file>)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { prepareKustomize } from '@catchall/scripts';
import {
  MODEL_WORKLOADS,
  fitPartCosts,
  foldRatio,
  projectorCostFactor,
  machineCapacity,
  size,
  type Assumptions,
  type MeasuredInputs,
  type ModelWorkload,
  type PartCost,
  type PhasePoint,
  type Scenario,
  type Sizing,
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

/**
 * The loaded phases of bench:scale, each part's cores from its µs/event: the warm-up left out,
 * and any phase that took less than 95 % of the load it was offered (members starting on a
 * machine already busy: its CPU went to starting processes, not to events).
 */
function phasePoints(scale: Result): { rows: Row[]; points: PhasePoint[] } {
  const rows = scale.rows.filter(
    (r) =>
      r.kind === 'phase' &&
      !String(r.phase).startsWith('warm') &&
      (String(r.phase).startsWith('step') ||
        Number(r['accepted events/s']) >= 0.95 * Number(r['offered events/s'])),
  );
  const points = rows.map((r) => {
    const rate = figure(scale, r, 'accepted events/s');
    const cores = (column: string) => (figure(scale, r, column) * rate) / 1e6;
    return {
      members: figure(scale, r, 'members'),
      eventsPerSecond: rate,
      rowsPerEvent: figure(scale, r, 'read model rows written per event'),
      cores: {
        ingest: cores('ingest API CPU µs/event'),
        kafka: cores('Kafka CPU µs/event'),
        projector: cores('projector CPU µs/event'),
        postgres: cores('Postgres CPU µs/event'),
        other: cores('load CPU µs/event') + cores('registry CPU µs/event'),
      },
    };
  });
  return { rows, points };
}

/** The model's inputs from the three benchmarks' newest results. */
function inputsFrom(ingest: Result, catchUp: Result, scale: Result) {
  const loadedPut = () => {
    // The defaults: consistency tokens on, full answers (not `Prefer: return=minimal`), one process.
    const rows = ingest.rows.filter(
      (r) =>
        String(r.scenario).startsWith('PUT') &&
        !/tokens off|return=minimal|workers/.test(String(r.scenario)),
    );
    const best = rows.sort((a, b) => Number(b['items/s']) - Number(a['items/s']))[0];
    return { us: figure(ingest, best, 'API CPU µs/event'), scenario: String(best?.scenario) };
  };
  const workloadRow = (w: string) => catchUp.rows.find((r) => r.workload === w);
  const per = (column: string) =>
    Object.fromEntries(
      MODEL_WORKLOADS.map((w) => [w, figure(catchUp, workloadRow(w), column)]),
    ) as Record<ModelWorkload, number>;
  const idRows = catchUp.rows.filter((r) => String(r.workload).endsWith('client ids'));
  if (idRows.length === 0) throw new Error(`${catchUp.file} has no load with client ids`);
  const phases = scale.rows.filter(
    (r) => r.kind === 'phase' && !String(r.phase).startsWith('warm'),
  );
  const { rows: fitted, points } = phasePoints(scale);
  const steps = phases.filter((r) => String(r.phase).startsWith('step'));
  if (steps.length === 0) throw new Error(`${scale.file} has no step phase`);
  const check = scale.rows.find((r) => r.kind === 'check');
  const walPerRow = mean(
    steps.map(
      (r) =>
        figure(scale, r, 'WAL bytes per event') /
        figure(scale, r, 'read model rows written per event'),
    ),
  );
  const processes = Number(/(\d+) ingest API processes/.exec(scale.notes.join('\n'))?.[1]);
  if (!Number.isFinite(processes))
    throw new Error(`${scale.file} does not give its ingest processes`);
  const put = loadedPut();
  const inputs: MeasuredInputs = {
    costs: fitPartCosts(points),
    ingestProcesses: processes,
    ingestPutUs: put.us,
    projectorUs: per('projector CPU µs/event'),
    projectorClientIdUs: Object.fromEntries(
      MODEL_WORKLOADS.map((w) => [
        w,
        figure(catchUp, workloadRow(`${w}, client ids`), 'projector CPU µs/event'),
      ]),
    ) as Record<ModelWorkload, number>,
    catchUpEventsPerSecond: per('projector events/s'),
    clientIdSpeedRatios: Object.fromEntries(
      idRows.map((r) => [
        String(r.workload).replace(/, client ids$/, ''),
        figure(catchUp, r, 'projector / same load without ids'),
      ]),
    ),
    rowsPerSecondPerConnection: figure(
      catchUp,
      workloadRow('uniform'),
      'Postgres ceiling rows/s per connection',
    ),
    walBytesPerRow: walPerRow,
    bytesPerDomain: figure(scale, check, 'read model bytes per domain'),
    measuredDomains: figure(scale, check, 'domains in the read model'),
    mbPerMillionIds: mean(idRows.map((r) => figure(catchUp, r, 'MB per million ids'))),
    logBytesPerRecord: figure(scale, check, 'log bytes per record'),
  };
  return { inputs, phases, fitted, points, steps, check: check!, putScenario: put.scenario };
}

/** A CPU cost per event or row, with what one core does at that cost. */
const perCore = (us: number) => `${n(us, 1)} µs (${n(1e6 / us)}/s per core)`;
/** Hours, or "never" for a rebuild that does not catch up. */
const hours = (h: number) => (Number.isFinite(h) ? `${n(h, 0)} h` : 'never: slower than the load');
const n = (x: number, digits = 0) =>
  x.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const table = (head: string[], rows: (string | number)[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`]
    .concat(rows.map((r) => `| ${r.join(' | ')} |`))
    .join('\n');

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const dir = path.resolve(option('--results') ?? path.join(ROOT, 'bench', 'results'));
  const out = path.resolve(option('--out') ?? path.join(ROOT, 'docs', 'capacity.md'));
  if (!existsSync(dir)) {
    throw new Error(
      `the results folder ${dir} does not exist: run the benchmarks first, or give --results <folder>`,
    );
  }
  const ingest = newest(dir, 'ingest');
  const catchUp = newest(dir, 'catch-up');
  const scale = newest(dir, 'scale');
  const measured = inputsFrom(ingest, catchUp, scale);
  const cores = Number(/machine: (\d+) cores/.exec(scale.notes.join('\n'))?.[1]);
  const manifests = await shippedManifests();
  const doc = render({
    ...measured,
    cores,
    files: [ingest, catchUp, scale].map((r) => r.file),
    scale,
    manifests,
  });
  writeFileSync(out, doc);
  console.log(doc);
  console.log(`\nwritten to ${path.relative(process.cwd(), out)}`);
}

/** What the production overlay ships, as `kustomize build` renders it. */
interface Shipped {
  brokers: number;
  brokerCores: string;
  brokerDisk: string;
  partitions: number;
  retentionMs: string;
  tiered: boolean;
  ingestMax: number;
  ingestCores: string;
  members: number;
  postgresCores: string;
  postgresDisk: string;
  postgresWalCompression: string;
}

/** The value at `keys` inside parsed YAML, or undefined where any step is missing. */
function at(value: unknown, ...keys: (string | number)[]): unknown {
  let v = value;
  for (const k of keys) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

async function shippedManifests(): Promise<Shipped> {
  const kustomize = await prepareKustomize((message) => console.error(message));
  const rendered = execFileSync(
    kustomize,
    ['build', path.join(ROOT, 'k8s', 'overlays', 'production')],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const docs = parseAllDocuments(rendered).map((d) => d.toJSON() as unknown);
  const spec = (kind: string, name: string) => {
    const found = docs.find((d) => at(d, 'kind') === kind && at(d, 'metadata', 'name') === name);
    if (!found) throw new Error(`the production overlay has no ${kind} ${name}`);
    return (...keys: (string | number)[]) => at(found, 'spec', ...keys);
  };
  const pool = spec('KafkaNodePool', 'dual-role');
  const topic = spec('KafkaTopic', 'domain-events');
  const db = spec('Cluster', 'catch-all-db');
  const volumes = pool('storage', 'volumes');
  return {
    brokers: Number(pool('replicas')),
    brokerCores: String(pool('resources', 'limits', 'cpu')),
    brokerDisk: (Array.isArray(volumes) ? volumes : [])
      .map((v) => String(at(v, 'size')))
      .join(' + '),
    partitions: Number(topic('partitions')),
    retentionMs: String(topic('config', 'retention.ms')),
    tiered: String(topic('config', 'remote.storage.enable')) === 'true',
    ingestMax: Number(spec('HorizontalPodAutoscaler', 'producer-api')('maxReplicas')),
    ingestCores: String(
      spec('Deployment', 'producer-api')(
        'template',
        'spec',
        'containers',
        0,
        'resources',
        'limits',
        'cpu',
      ),
    ),
    members: Number(spec('Deployment', 'consumer')('replicas')),
    postgresCores: String(db('resources', 'limits', 'cpu')),
    postgresDisk: String(db('storage', 'size')),
    postgresWalCompression: String(db('postgresql', 'parameters', 'wal_compression') ?? 'off'),
  };
}

interface Model {
  inputs: MeasuredInputs;
  /** Every loaded phase, and those the costs are fitted over. */
  phases: Row[];
  fitted: Row[];
  points: PhasePoint[];
  steps: Row[];
  check: Row;
  putScenario: string;
  cores: number;
  files: string[];
  scale: Result;
  manifests: Shipped;
}

function render(m: Model): string {
  const { inputs } = m;
  const { costs } = inputs;
  const a = ASSUMPTIONS;
  const lines: string[] = [];
  // Blocks apart: a line right after a table would be read as one of its rows.
  const push = (...xs: string[]) => {
    for (const x of xs) lines.push(x, '');
  };
  push(
    '# Capacity model',
    `Written by \`npm run capacity\` from the benchmark results ${m.files.map((f) => `\`${f}\``).join(', ')} (bench/results/, kept out of git). Run the three benchmarks and this command again to refresh it; edit the assumptions in \`bench/lib/capacity-assumptions.ts\`, never the figures here.`,
  );
  const cost = (c: PartCost, unit: string) =>
    [
      c.fixedCores > 0 ? `${n(c.fixedCores, 2)} cores fixed` : '',
      c.coresPerMember > 0 ? `${n(c.coresPerMember, 3)} cores per member` : '',
      `${n(c.usPerUnit, 1)} µs per ${unit}`,
    ]
      .filter(Boolean)
      .join(' + ');
  const left = m.phases.filter((r) => !m.fitted.includes(r));
  const phaseList = `${m.fitted.length} loaded phases (${m.fitted.map((r) => `${n(Number(r['accepted events/s']))}/s with ${String(r.members)}`).join(', ')} members)${left.length > 0 ? `, leaving out ${left.map((r) => `"${String(r.phase)}", which took ${n(Number(r['accepted events/s']))} of the ${n(Number(r['offered events/s']))} events/s offered while members started`).join('; ')}` : ''}`;
  push(
    '## Measured inputs',
    `Each part's CPU is fitted by least squares over bench:scale's ${phaseList}: a fixed cost, a cost per projector member where members change it, and a cost per event (per row for Postgres). Costs per event read off one phase mix the two: the step phases, beyond what the machine takes, show the cheapest; the steady ones, at 10,000 events/s, the dearest.`,
    table(
      ['figure', 'value', 'from'],
      [
        [
          'ingest API (batches of 100)',
          cost(costs.ingest, 'event'),
          `bench:scale, fixed cost for its ${inputs.ingestProcesses} processes together`,
        ],
        [
          'ingest API, single `PUT`s',
          perCore(inputs.ingestPutUs),
          `bench:ingest, one process at its most loaded (${m.putScenario}), fixed costs included`,
        ],
        [
          'Kafka broker (replication 1)',
          cost(costs.kafka, 'event'),
          "bench:scale (the ingest API's transactions over 24 partitions)",
        ],
        ['projector, Zipf-like load', cost(costs.projector, 'event'), 'bench:scale'],
        ...MODEL_WORKLOADS.map((w) => [
          `projector per event at full speed, ${w}`,
          perCore(inputs.projectorUs[w]),
          'bench:catch-up; times the factor under "Checked against the multi-process run", it sizes the members',
        ]),
        ['Postgres', cost(costs.postgres, 'read-model row'), 'bench:scale'],
        [
          'load generator and registry',
          cost(costs.other, 'event'),
          'bench:scale (not part of a deployment)',
        ],
        [
          'WAL per read-model row written',
          `${n(inputs.walBytesPerRow)} bytes`,
          'bench:scale, step phases; its Postgres runs with `wal_compression` off',
        ],
        [
          'read model per domain',
          `${n(inputs.bytesPerDomain)} bytes`,
          `bench:scale, table and index over ${n(inputs.measuredDomains)} domains`,
        ],
        [
          'log bytes per record',
          `${n(inputs.logBytesPerRecord)} bytes`,
          "bench:scale, the topic's segment files over its records (key, Avro value, headers, batch framing, transaction markers)",
        ],
        [
          'Postgres rows/s per connection',
          n(inputs.rowsPerSecondPerConnection),
          "bench:catch-up, the uniform load's Postgres ceiling over its 4 connections on a machine every part shares: what one connection did there, likely less than on a dedicated server",
        ],
        ...MODEL_WORKLOADS.map((w) => [
          `catch-up, ${w}`,
          `${n(inputs.catchUpEventsPerSecond[w])} events/s`,
          'bench:catch-up, one projector on the shared machine (sets the rebuild speed)',
        ]),
        ['event ids', `${n(inputs.mbPerMillionIds, 1)} MB per million`, 'bench:catch-up'],
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
    `**What is extrapolated.** The costs per row, the WAL per row and the bytes per domain were measured over ${n(inputs.measuredDomains)} domains, and are applied unchanged to 10 and 100 million. A larger table means more of it outside memory: index lookups that miss shared buffers (the read model of 10,000,000 domains, ${n((1e7 * inputs.bytesPerDomain) / 1e9, 1)} GB, still fits a large primary's memory; 100,000,000 does not), and full-page images in the WAL for more distinct pages after each checkpoint, which \`wal_compression\` (on in \`k8s/\`, off in the benchmarks) shrinks. The brokers' cost per event for the followers of replication ${a.replication} is taken as the leader's. Treat the Postgres figures of the larger scenario as a lower bound.`,
  );
  const sizedAll = SCENARIOS.map((scenario) => ({
    scenario,
    sized: MODEL_WORKLOADS.map((w) => size(inputs, a, scenario, w)),
  }));
  // One topic, one partition count: the largest any load needs, and the largest scenario's
  // from the start, since adding partitions later moves domains between them.
  const growthPartitions = Math.max(...sizedAll.flatMap((s) => s.sized.map((x) => x.partitions)));
  for (const { scenario, sized } of sizedAll) {
    const partitions = Math.max(...sized.map((s) => s.partitions));
    const row = (label: string, f: (s: (typeof sized)[number]) => string) => [
      label,
      ...sized.map(f),
    ];
    push(
      `## ${scenario.name}`,
      table(
        ['', ...MODEL_WORKLOADS],
        [
          row(
            'Kafka brokers, with tiered storage (bound by)',
            (s) => `${s.brokers} (${s.brokersBy})`,
          ),
          row(
            'partitions this load needs (one count for every load; create the topic with the growth figure under "Next bottleneck")',
            () => String(partitions),
          ),
          row('topic growth, replicated', (s) => `${n(s.kafkaTbPerDay, 2)} TB a day`),
          row(
            `object storage after ${a.historyDays} days (one copy)`,
            (s) => `${n(s.objectStorageTb, 0)} TB`,
          ),
          row(
            `without tiered storage: brokers, partitions for ${a.historyDays} days on local disks`,
            (s) => `${n(s.brokersWithoutTiering)}, ${n(s.partitionsWithoutTiering)}`,
          ),
          row('ingest API pods, batches of 100', (s) => String(s.ingestPods)),
          row('ingest API pods, every event a single `PUT`', (s) => String(s.ingestPodsSinglePuts)),
          row(
            'projector members (busy)',
            (s) => `${s.projectorMembers} (${n(100 * s.projectorBusy)} %)`,
          ),
          row('fold ratio (rows per event)', (s) => n(s.foldRatio, 3)),
          row('Postgres rows/s after folding', (s) => n(s.postgresRowsPerSecond)),
          row(
            "Postgres connections busy upserting (at the shared machine's rate per connection)",
            (s) => n(s.postgresBusyConnections, 1),
          ),
          row('Postgres primary cores', (s) => n(s.postgresCores, 1)),
          row('WAL', (s) => `${n(s.walMbPerSecond, 1)} MB/s`),
          row('read model', (s) => `${n(s.readModelGb, 1)} GB`),
          row('read model with a rebuild beside it', (s) => `${n(2 * s.readModelGb, 1)} GB`),
          row(
            'a rebuild (one `replay rebuild` process): events/s, hours to catch up per 30 days of history while events keep arriving',
            (s) => `${n(s.rebuildEventsPerSecond)}/s, ${hours(s.rebuildHoursPerMonth)}`,
          ),
          row(
            `the same after ${a.historyDays} days: events, days`,
            (s) =>
              `${n(s.rebuildEvents / 1e9, 0)} billion, ${Number.isFinite(s.rebuildHours) ? `${n(s.rebuildHours / 24, 0)} days` : 'never'}`,
          ),
          row(
            `share of the largest primary (limit)${scenario.domains > 10 * inputs.measuredDomains ? ', a lower bound (see "What is extrapolated")' : ''}`,
            (s) => `${n(100 * s.primaryShare)} % (${s.primaryLimit})`,
          ),
          row(
            'every event with a client id, an id row costed as a read-model row (an estimate): primary cores, WAL, share',
            (s) =>
              `${n(s.postgresCoresWithIds, 1)}, ${n(s.walMbPerSecondWithIds, 1)} MB/s, ${n(100 * s.primaryShareWithIds)} %`,
          ),
        ],
      ),
      clientIds(sized, inputs),
      nextBottleneck(sized, scenario, partitions, growthPartitions),
    );
  }
  push(
    '## The shipped manifests against the model',
    ...againstManifests(m.manifests, sizedAll, growthPartitions),
  );
  push('## When one Postgres primary stops being enough', ...primaryLimits(inputs));
  push('## Checked against the multi-process run', ...checked(m));
  return `${lines.join('\n').trim()}\n`;
}

/** What ids the clients chose add: rows, storage, members (their Postgres cost per row is not measured). */
function clientIds(sized: Sizing[], inputs: MeasuredInputs): string {
  const s = sized[0]!;
  const ratios = Object.entries(inputs.clientIdSpeedRatios)
    .map(([w, r]) => `${w} ${n(r ?? 0, 2)}`)
    .join(', ');
  return `**If every event carried a client id** (\`Idempotency-Key\`, \`eventId\`): each id is a row of its own in \`event_ids\`, ${n(s.eventIdRowsPerSecond)} rows/s more for the primary on every load, besides the folded rows above, and ${n(s.eventIdsGb, 0)} GB kept for the dedupe window; the projector then needs ${sized.map((x) => `${x.projectorMembersClientIds} members on the ${x.workload} load (${n(100 * x.projectorBusyClientIds)} % busy)`).join(', ')}. What an id row costs Postgres in CPU and WAL is not measured apart: bench:catch-up measures the whole catch-up only, with ids at ${ratios} of its speed without. The primary's figures above leave the ids out, but for the last row, which costs an id's row as a read-model row.`;
}

function nextBottleneck(
  sized: Sizing[],
  scenario: Scenario,
  partitions: number,
  growth: number,
): string {
  const worst = sized.reduce((w, s) => (s.primaryShare > w.primaryShare ? s : w));
  const members = Math.max(...sized.map((s) => s.projectorMembers));
  const over = worst.primaryShare > 1;
  const noTier = Math.max(...sized.map((s) => s.brokersWithoutTiering));
  return [
    `**Next bottleneck.** Brokers, ingest pods and projector members scale out; the Postgres primary does not. At ${n(scenario.eventsPerSecond)} events/s the ${worst.workload} load takes ${n(100 * worst.primaryShare)} % of the largest primary's ${worst.primaryLimit === 'CPU' ? 'cores' : 'WAL rate'} in the assumptions${over ? ': **more than one primary can write, which the product cannot serve today** (see below)' : ''}.`,
    `The projector members (${members} at most here) stay below the ${partitions} partitions, which cap them${growth > partitions ? `; create the topic with ${growth} from the start, what ten times the load needs, since adding partitions later moves domains between them` : ''}.`,
    `**Brokers.** ${sized.every((s) => s.brokersBy !== 'CPU') ? `Their count is set by ${[...new Set(sized.map((s) => s.brokersBy))].join(' and ')}, not CPU: the load needs ${n(Math.max(...sized.map((s) => s.brokerCoresNeeded)), 1)} broker cores in all at ${n(100 * ASSUMPTIONS.utilization)} %, so brokers of fewer than ${ASSUMPTIONS.brokerCores} cores would do.` : `The load needs ${n(Math.max(...sized.map((s) => s.brokerCoresNeeded)), 1)} broker cores at ${n(100 * ASSUMPTIONS.utilization)} %.`} The model sizes pods for ${n(100 * ASSUMPTIONS.utilization)} % of a core; the shipped HPA scales the ingest API at 70 %, which gives fewer pods and less room for a lost node.`,
    `**The topic's history needs tiered storage.** It keeps every event: without tiered storage (KIP-405) the brokers' disks, not their CPU, set their count (${n(noTier)} here after ${ASSUMPTIONS.historyDays} days), and the partitions must grow with them so that a partition's replica fits one disk; with it, the brokers keep ${ASSUMPTIONS.localRetentionDays} days and object storage the rest.`,
    `**Rebuilds do not scale out yet.** A rebuild replays every event the topic holds with one \`replay rebuild\` process at the catch-up speed bench:catch-up measured, and switches only once it has caught up with the events that keep arriving: ${rebuildSummary(sized)} (\`kubectl exec\` into a projector pod, as the README shows, gives it less than a core.) At this scale a rebuild needs members per partition, as the projector has, or to start from a snapshot of the read model rather than from the first event; neither exists yet.`,
  ].join(' ');
}

/** Which loads' rebuilds never catch up with the load, and the quickest that does. */
function rebuildSummary(sized: Sizing[]): string {
  const never = sized.filter((s) => !Number.isFinite(s.rebuildHours)).map((s) => s.workload);
  if (never.length === sized.length) {
    return 'on every load a rebuild is not faster than the load and never catches up.';
  }
  const quickest = `the quickest takes ${hours(Math.min(...sized.map((s) => s.rebuildHoursPerMonth)))} per month of history.`;
  return never.length === 0
    ? quickest
    : `on the ${never.join(' and ')} load${never.length > 1 ? 's' : ''} a rebuild is not faster than the load and never catches up; ${quickest}`;
}

/** The production overlay's sizes next to what each scenario needs, and what to change. */
function againstManifests(
  s: Shipped,
  sizedAll: { scenario: Scenario; sized: Sizing[] }[],
  growth: number,
): string[] {
  const a = ASSUMPTIONS;
  const most = (sized: Sizing[], f: (x: Sizing) => number) => Math.max(...sized.map(f));
  const need = (f: (x: Sizing) => number) => sizedAll.map(({ sized }) => n(most(sized, f), 0));
  const dayTb = sizedAll.map(({ sized }) => sized[0]!.kafkaTbPerDay / a.replication);
  const diskGb = Number(/^(\d+)Gi$/.exec(s.brokerDisk)?.[1] ?? NaN) * 1.073741824;
  const fullHours = dayTb.map((tb) => (diskGb / (tb * 1000)) * 24);
  return [
    `\`k8s/overlays/production\`, as \`kustomize build\` renders it, next to the largest need of any load in each scenario (tiered storage on):`,
    table(
      [
        '',
        'shipped',
        ...sizedAll.map(({ scenario }) => `${n(scenario.eventsPerSecond)} events/s`),
        'change',
      ],
      [
        [
          'Kafka brokers',
          `${s.brokers} (${s.brokerCores} cores each)`,
          ...need((x) => x.brokers).map((v) => `${v} (${a.brokerCores} cores each)`),
          `the node pool's \`replicas\` and \`resources\``,
        ],
        [
          'broker disk',
          `${s.brokerDisk} each, \`retention.ms\` ${s.retentionMs}, tiered storage ${s.tiered ? 'on' : 'off'}`,
          ...sizedAll.map(
            (_, i) =>
              `${n(a.brokerDiskTb)} TB each, ${a.localRetentionDays} days local (shipped disks full after ${n(fullHours[i]!, 1)} h)`,
          ),
          'a remote storage manager (KIP-405) in the Kafka resource, `remote.storage.enable: true` and `local.retention.ms` on the topic, larger volumes',
        ],
        [
          'events topic partitions (sized for ten times the load, from the start)',
          String(s.partitions),
          ...sizedAll.map(() => String(growth)),
          `\`partitions\` in the KafkaTopic, before the first event: later it moves domains between partitions`,
        ],
        [
          'ingest API pods (batches of 100)',
          `HPA at most ${s.ingestMax} (${s.ingestCores} core each)`,
          ...need((x) => x.ingestPods),
          'HPA `maxReplicas` to the single-`PUT` figure if clients send one event per request',
        ],
        [
          'ingest API pods (single `PUT`s)',
          `HPA at most ${s.ingestMax}`,
          ...need((x) => x.ingestPodsSinglePuts),
          '',
        ],
        [
          'projector members',
          String(s.members),
          ...need((x) => x.projectorMembers),
          "the consumer Deployment's `replicas` (or KEDA, `components/keda-autoscaling`)",
        ],
        [
          'projector members, every event with a client id',
          String(s.members),
          ...need((x) => x.projectorMembersClientIds),
          '',
        ],
        [
          'Postgres primary',
          `${s.postgresCores} cores, ${s.postgresDisk}, \`wal_compression\` ${s.postgresWalCompression}`,
          ...sizedAll.map(
            ({ sized }) =>
              `${n(
                most(sized, (x) => x.postgresCores),
                1,
              )} cores, ${n(2 * sized[0]!.readModelGb + most(sized, (x) => x.eventIdsGb), 0)} GB with a rebuild and an hour of ids`,
          ),
          "the Cluster's `resources` and `storage.size`",
        ],
      ],
    ),
    `The shipped sizes fit a trial, not either scenario: the brokers' volumes fill within hours at 100,000 events/s since the topic keeps every event, and ${s.partitions} partitions cap the projector at ${s.partitions} members and spread the history over ${s.partitions * a.replication} replicas only.`,
  ];
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
    `The primary writes every folded row, and only it can: the projector's transaction holds the counts, the positions and the event ids together (exactly once). With the measured cost per row and a primary of ${a.postgresMaxCores} cores (or ${a.postgresMaxWalMbPerSecond} MB/s of WAL), each used up to ${a.utilization * 100} %, one primary takes, for events without client ids (the WAL rate is an assumption, not measured here, and it sets these limits; the WAL per row was measured with \`wal_compression\` off, which \`k8s/\` turns on, so a production primary writes less per row):`,
    lines.join('\n'),
    'What the product does before and after that point:',
    [
      '- **Reads first.** Lookups and listings go to read replicas: the query API only reads, so its `DATABASE_URL` may name a streaming standby (CloudNativePG\'s `-ro` service; README, "Read replicas"). A read with a consistency token waits until the standby has replayed the offsets it names, so read-your-writes holds on a replica too. Each replica adds the lookups of one more server and takes nothing from the primary but WAL shipping. Lookups per replica are not measured here (bench:read-model measures one server).',
      '- **Fewer rows per event.** `FLUSH_INTERVAL_MS` trades freshness for folding: doubling it lowers the rows written per event for loads with hot domains (see the fold ratios above), not for the uniform one.',
      "- **Then the writes.** The read model is keyed by domain, and a domain lives on one Kafka partition. Past one primary, the read model is split by partition ranges over several Postgres clusters (or a distributed Postgres such as Citus with `domain_stats` distributed by domain): each projector member writes only the clusters of its partitions, each flush stays one local transaction, and the query API finds a domain's cluster by the same murmur2 partitioner the producers use. That split is designed, not built. Adding partitions moves domains between partitions, and so between clusters: the split needs the topic's partitions fixed for good (sized for growth from the start, as above) or a move of the rows with them. Until it exists, one primary is the product's ceiling (each scenario above says whether it is past it).",
    ].join('\n'),
  ];
}

function checked(m: Model): string[] {
  const { inputs } = m;
  const steady = m.phases.filter((r) => String(r.phase).startsWith('steady'));
  const steadyRate = Number(steady[0]?.['offered events/s'] ?? 10_000);
  const measuredFold = mean(steady.map((r) => Number(r['read model rows written per event'])));
  const modelFold = foldRatio(
    'zipf',
    (steadyRate * ASSUMPTIONS.flushIntervalMs) / 1000,
    10_000_000,
  );
  // Each step phase predicted by costs fitted without it, for the cores the benchmark's own
  // processes had in it (busy share × the share they used).
  const predictions = m.steps.map((step) => {
    const at = m.fitted.indexOf(step);
    const costs = fitPartCosts(m.points.filter((_, i) => i !== at));
    const coresHad = (m.cores * Number(step['CPU busy %']) * Number(step['CPU accounted %'])) / 1e4;
    const predicted = machineCapacity(
      costs,
      ASSUMPTIONS,
      coresHad,
      Number(step.members),
      'zipf',
      10_000_000,
    ).eventsPerSecond;
    const measured = Number(step['accepted events/s']);
    return {
      members: Number(step.members),
      coresHad,
      predicted,
      measured,
      error: predicted / measured - 1,
    };
  });
  const meanError = mean(predictions.map((p) => Math.abs(p.error)));
  const rebalances = m.scale.rows.filter((r) => r.kind === 'rebalance');
  const counts = m.steps.map((r) => Number(r.members));
  const joined = steady.filter((r) => String(r.phase).includes('→')).map((r) => Number(r.members));
  const rates = m.steps.map((r) => Number(r['accepted events/s']));
  const freshP99 = m.steps.map((r) => Number(r['freshness p99 ms']));
  const fresher = freshP99.every((x, i) => i === 0 || x <= freshP99[i - 1]!);
  const fell = rates.every((x, i) => i === 0 || x <= rates[i - 1]!);
  const drop = 1 - rates.at(-1)! / rates[0]!;
  return [
    `bench:scale ran every part on one machine of ${m.cores} cores: the broker, the registry, Postgres, ${inputs.ingestProcesses} ingest API processes behind one port, ${counts.join(', ')} projector members over 24 partitions, and the load generator. Two checks of the model against it:`,
    `**Two benchmarks, one cost.** The projector's cost per event fitted over bench:scale's phases is ${n(inputs.costs.projector.usPerUnit, 2)} µs; bench:catch-up, another run and another setting (one member at full speed from a backlog), measured ${n(inputs.projectorUs.zipf, 2)} µs on the same Zipf-like load (the first ${n(100 * Math.abs(inputs.costs.projector.usPerUnit / inputs.projectorUs.zipf - 1), 0)} % ${inputs.costs.projector.usPerUnit >= inputs.projectorUs.zipf ? 'more' : 'less'}). The members are sized with the dearer: catch-up's cost of each workload times ${n(projectorCostFactor(inputs), 2)}, and bench:scale's ${n(inputs.costs.projector.coresPerMember, 3)} cores per member.`,
    `**Each step predicted without it.** Each step phase's events/s predicted from costs fitted over the other ${m.points.length - 1} phases it fits, for the cores the benchmark's processes had in it, and the fold the model computes (mean error ${n(100 * meanError, 0)} %). This shows that one set of costs explains every phase of one run; it is no forecast of another run, and runs on this machine differ from each other by more than this (docs/benchmarks.md, "Run to run"). The factor that sizes the projector members comes from this run too. ${predictions.every((p, i) => i === 0 || p.predicted / p.measured <= predictions[i - 1]!.predicted / predictions[i - 1]!.measured) ? 'The ratio falls as members are added: one cost per member whatever their number overstates a little what many members cost.' : ''}`,
    table(
      [
        'members',
        'cores the benchmark had',
        'model events/s',
        'measured events/s',
        'model / measured',
      ],
      predictions.map((p) => [
        p.members,
        n(p.coresHad, 2),
        n(p.predicted),
        n(p.measured),
        n(p.predicted / p.measured, 2),
      ]),
    ),
    table(
      ['', 'model', 'measured (bench:scale)'],
      [
        [
          `read-model rows per event at ${n(steadyRate)} events/s`,
          n(modelFold, 3),
          `${n(measuredFold, 3)} (steady phases)`,
        ],
      ],
    ),
    `Events keep arriving while a flush runs, so a measured flush folds a little more than one interval's events. The step phases kept the machine ${m.steps.map((r) => String(r['CPU busy %'])).join(' %, ')} % busy, of which the benchmark's own processes used ${m.steps.map((r) => String(r['CPU accounted %'])).join(' %, ')} %: ${m.steps.every((r) => Number(r['CPU busy %']) >= 90) ? 'bound by CPU, all parts sharing it, not by any one of them' : 'not bound by CPU alone'}.`,
    `Per member count: the steady phase at the load the run offered${joined.length > 0 ? ` (for ${joined.length > 1 ? `${joined.slice(0, -1).join(', ')} and ${joined.at(-1)}` : joined[0]} members, the phase in which they joined: a rebalance, not a steady state)` : ''}, then the step load beyond what the machine takes, at each member count with no rebalance. ${fell ? `Each member more took fewer events in the step (${n(100 * drop, 0)} % fewer from ${counts[0]} to ${counts.at(-1)} members): on the same cores each member costs CPU of its own, in its process and in the broker and Postgres it talks to (the per-member costs above).` : 'The step took more events with more members.'} ${fresher ? `Freshness under the step load improved with members${fell ? ', over a load that fell at the same time, so members and load both count in it' : ''}.` : 'Freshness under the step load did not improve with every member added.'}`,
    table(
      [
        'members',
        'steady: events/s taken of offered',
        'steady: freshness p50 / p99',
        'step: events/s accepted',
        'step: freshness p50 / p99',
      ],
      m.steps.map((step) => {
        const members = Number(step.members);
        const calm = steady.find((r) => Number(r.members) === members);
        const fresh = (r: Row | undefined) =>
          r ? `${n(Number(r['freshness p50 ms']))} / ${n(Number(r['freshness p99 ms']))} ms` : '';
        const taken = calm
          ? `${n(Number(calm['accepted events/s']))} of ${n(Number(calm['offered events/s']))}`
          : '';
        return [members, taken, fresh(calm), n(Number(step['accepted events/s'])), fresh(step)];
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

main().catch((err: unknown) => {
  // What is missing, said once: no stack for a result not there yet.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
