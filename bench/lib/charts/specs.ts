import {
  type BarChart,
  type BenchResult,
  type Chart,
  type Figure,
  label,
  num,
  optionalNum,
  type ProgressPoint,
  ResultShapeError,
  type Series,
} from './figure';

type Row = Record<string, unknown>;

const PERCENTILES = ['p50', 'p95', 'p99'] as const;
/** Baselines (Kafka's own tools, the Postgres ceiling, pg without the API) say so in their name. */
const isBaseline = (scenario: string) => /baseline|ceiling/i.test(scenario);

/**
 * The figure of one benchmark result: its charts, by the result's `name` (ingest, read-model,
 * catch-up, scale, poison-storm; the row fields each benchmark writes are in its own file under
 * bench/). Throws ResultShapeError when `value` is not a result, has no rows, is of an unknown
 * benchmark or lacks a figure a chart needs, naming the row and the field.
 */
export function figureOf(value: unknown): Figure {
  const result = asResult(value);
  const build = builders[result.name];
  if (!build) {
    throw new ResultShapeError(
      `no charts for a "${result.name}" result: charts exist for ${Object.keys(builders).join(', ')}`,
    );
  }
  const { title, subtitle, charts } = build(result);
  return { name: result.name, title, subtitle: `run of ${result.at}${subtitle}`, charts };
}

/** Whether `figureOf` draws results of the benchmark `name`. */
export function hasFigure(name: string): boolean {
  return Object.hasOwn(builders, name);
}

type Built = { title: string; subtitle: string; charts: Chart[] };

const builders: Record<string, (r: BenchResult) => Built> = {
  ingest: (r) => ({
    title: 'bench:ingest: ingest API against Kafka ProducerPerformance and a bare fastify server',
    subtitle:
      '; requests/s of the batches (a PUT carries one event: its requests/s are its events/s)',
    charts: scenarioCharts(r, r.rows, {
      rateTitle: 'Accepted events and requests per second',
      rateName: 'events/s',
      requests: true,
    }),
  }),
  'read-model': (r) => {
    const rows = r.rows.filter((row) => !label(r, row, 'scenario').startsWith('warm-up'));
    return {
      title: 'bench:read-model: rebuild and lookups against their baselines',
      subtitle: '; warm-ups not shown; rates are events, lookups or requests per second',
      charts: scenarioCharts(r, rows, { rateTitle: 'Rate per scenario', rateName: 'per second' }),
    };
  },
  'catch-up': catchUpFigure,
  scale: scaleFigure,
  'poison-storm': (r) => {
    const scenarios = r.rows.map((row) => label(r, row, 'scenario'));
    const column = (key: string) => r.rows.map((row) => num(r, row, key));
    return {
      title: 'bench:poison-storm: the projector behind storms of bad records',
      subtitle: '; the first scenario, valid records only, is the baseline',
      charts: [
        bar('Records through the projector per second', 'records/s (log scale)', scenarios, [
          { name: 'records through/s', values: column('records through per s') },
          { name: 'dead letters/s', values: column('dead letters per s') },
        ]),
        bar('Probe behind the records: Kafka ack to row', 'ms (log scale)', scenarios, [
          { name: 'probe delay', values: column('probe delay ms (ack to row)') },
        ]),
      ],
    };
  },
};

function bar(title: string, valueAxis: string, categories: string[], series: Series[]): BarChart {
  return { kind: 'bar', title, valueAxis, categories, series, log: valueAxis.includes('log') };
}

/**
 * Rows of `scenario`, `items/s` and latency percentiles: one chart of rates (baselines a
 * series of their own; `requests` adds the `requests/s` of the rows that have it), one of
 * p50, p95 and p99 for the rows that have them.
 */
function scenarioCharts(
  r: BenchResult,
  rows: Row[],
  options: { rateTitle: string; rateName: string; requests?: boolean },
): Chart[] {
  const rated = rows.filter((row) => 'items/s' in row);
  const timed = rows.filter((row) => PERCENTILES.some((p) => p in row));
  if (rated.length === 0) {
    throw new ResultShapeError(`${r.name} result (${r.at}): no row has "items/s"`);
  }
  const names = rated.map((row) => label(r, row, 'scenario'));
  const rate = (row: Row, baseline: boolean) =>
    isBaseline(label(r, row, 'scenario')) === baseline ? num(r, row, 'items/s') : null;
  const series: Series[] = [
    { name: options.rateName, values: rated.map((row) => rate(row, false)) },
    { name: `baseline ${options.rateName}`, values: rated.map((row) => rate(row, true)) },
  ];
  if (options.requests) {
    series.push({
      name: 'requests/s',
      values: rated.map((row) => optionalNum(r, row, 'requests/s')),
    });
  }
  const charts: Chart[] = [bar(options.rateTitle, 'per second (log scale)', names, series)];
  if (timed.length > 0) {
    charts.push(
      bar(
        'Latency percentiles',
        'ms (log scale)',
        timed.map((row) => label(r, row, 'scenario')),
        PERCENTILES.map((p) => ({ name: p, values: timed.map((row) => num(r, row, p)) })),
      ),
    );
  }
  return charts;
}

function catchUpFigure(r: BenchResult): Built {
  const workloads = r.rows.map((row) => label(r, row, 'workload'));
  const charts: Chart[] = [
    bar('Catch-up rate per workload', 'events/s (log scale)', workloads, [
      { name: 'projector', values: r.rows.map((row) => num(r, row, 'projector events/s')) },
      {
        name: 'Postgres ceiling (baseline)',
        values: r.rows.map((row) => optionalNum(r, row, 'Postgres ceiling events/s')),
      },
      {
        name: 'Kafka ConsumerPerformance (baseline)',
        values: r.rows.map((row) => optionalNum(r, row, 'Kafka ConsumerPerformance events/s')),
      },
    ]),
  ];
  const rss = r.rows.map((row) => optionalNum(r, row, 'max RSS MB'));
  if (rss.some((v) => v !== null)) {
    charts.push(
      bar('Projector peak RSS per workload', 'MB', workloads, [
        { name: 'peak RSS', values: rss },
        { name: 'bound (256 MB)', values: workloads.map(() => 256) },
      ]),
    );
  }
  const latencies = Object.entries(r.latencies ?? {});
  if (latencies.length > 0) {
    charts.push(
      bar(
        'Latency percentiles while events flow',
        'ms',
        latencies.map(([what, l]) => `${what} (${l.probes} probes)`),
        PERCENTILES.map((p) => ({ name: p, values: latencies.map(([, l]) => l[p]) })),
      ),
    );
  }
  if (!r.progress) {
    return {
      title: 'bench:catch-up: projector catch-up into Postgres',
      subtitle: '; this run recorded no progress over time',
      charts,
    };
  }
  charts.push({
    kind: 'line',
    title: 'Applied events since the projector started',
    xAxis: 's since the projector process started',
    yAxis: 'events applied',
    series: Object.entries(r.progress).map(([workload, points]) => ({
      name: workload,
      points: progressPoints(r, workload, points),
    })),
  });
  return { title: 'bench:catch-up: projector catch-up into Postgres', subtitle: '', charts };
}

function progressPoints(r: BenchResult, workload: string, points: unknown): [number, number][] {
  if (!Array.isArray(points) || points.length === 0) {
    throw new ResultShapeError(
      `${r.name} result (${r.at}): progress of "${workload}" has no samples`,
    );
  }
  return points.map((p: ProgressPoint) => [
    num(r, p as unknown as Row, 's'),
    num(r, p as unknown as Row, 'applied'),
  ]);
}

function scaleFigure(r: BenchResult): Built {
  const phases = r.rows.filter((row) => row.kind === 'phase');
  const rebalances = r.rows.filter((row) => row.kind === 'rebalance');
  if (phases.length === 0) {
    throw new ResultShapeError(`${r.name} result (${r.at}): no row of kind "phase"`);
  }
  const phaseName = (row: Row) => {
    const phase = label(r, row, 'phase');
    const members = String(num(r, row, 'members'));
    return phase.includes(members) ? phase : `${phase} (${members} members)`;
  };
  const names = phases.map(phaseName);
  const column = (rows: Row[], key: string) => rows.map((row) => num(r, row, key));
  const charts: Chart[] = [
    bar('Throughput per phase and member count', 'events/s', names, [
      { name: 'offered', values: column(phases, 'offered events/s') },
      { name: 'accepted (202)', values: column(phases, 'accepted events/s') },
      { name: 'applied offsets', values: column(phases, 'applied offsets/s') },
    ]),
    bar('Freshness per phase: 202 to applied', 'ms (log scale)', names, [
      { name: 'p50', values: column(phases, 'freshness p50 ms') },
      { name: 'p99', values: column(phases, 'freshness p99 ms') },
      { name: 'max', values: column(phases, 'freshness max ms') },
    ]),
  ];
  if (rebalances.length > 0) {
    charts.push(
      bar(
        'Rebalances: how long they held records back',
        's',
        rebalances.map((row) => `${label(r, row, 'phase')} (${label(r, row, 'members')})`),
        [
          { name: 'longest partition pause', values: column(rebalances, 'longest pause s') },
          {
            name: 'all earlier records applied after',
            values: column(rebalances, 'records written before it all applied after s'),
          },
        ],
      ),
    );
  }
  return {
    title: 'bench:scale: ingest and projector members together',
    subtitle: '; phases in the order they ran',
    charts,
  };
}

/** The base shape every result has; the benchmark-specific fields are checked as charted. */
function asResult(value: unknown): BenchResult {
  if (typeof value !== 'object' || value === null) {
    throw new ResultShapeError('a benchmark result is a JSON object');
  }
  const v = value as Partial<BenchResult>;
  if (typeof v.name !== 'string' || typeof v.at !== 'string') {
    throw new ResultShapeError('a benchmark result has a "name" and an "at" text');
  }
  if (!Array.isArray(v.rows) || v.rows.length === 0) {
    throw new ResultShapeError(`${v.name} result (${v.at}) has no rows: nothing to chart`);
  }
  if (v.progress !== undefined && (typeof v.progress !== 'object' || v.progress === null)) {
    throw new ResultShapeError(`${v.name} result (${v.at}): "progress" is not an object`);
  }
  return { notes: [], ...v } as BenchResult;
}
