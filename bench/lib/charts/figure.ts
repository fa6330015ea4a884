/**
 * What a benchmark's report draws, independent of the charting library: a figure (one SVG)
 * holds charts stacked top to bottom. Pure data, built from a result by `./specs` and drawn
 * by `./render`; the unit tests check these values.
 */

/** The JSON a benchmark writes under bench/results/ (see `report` in ../report.ts). */
export interface BenchResult {
  name: string;
  /** ISO time of the run's end. */
  at: string;
  rows: Record<string, unknown>[];
  notes: string[];
  /**
   * catch-up only, from its version that samples progress: applied events (the sum of the
   * read model's next offsets) against seconds since the projector process started, by workload.
   */
  progress?: Record<string, ProgressPoint[]>;
  /**
   * catch-up only, from its version that records them: latency percentiles (ms) of the probes
   * run while events flow (freshness, read-your-writes), by what was measured.
   */
  latencies?: Record<string, { p50: number; p95: number; p99: number; probes: number }>;
}

/** One sample of a catch-up: `s` seconds after the projector started, `applied` events in. */
export interface ProgressPoint {
  s: number;
  applied: number;
}

/** One named set of values: by category (bar charts) or as [x, y] points (line charts). */
export interface Series {
  name: string;
  /** Bar charts: one value per category, null where the row has none. */
  values?: (number | null)[];
  /** Line charts: [x, y] points in x order. */
  points?: [number, number][];
}

/** Bars are horizontal (categories down the side, values along the bottom): scenario names are long. */
export interface BarChart {
  kind: 'bar';
  title: string;
  /** Title of the value axis, with its unit. */
  valueAxis: string;
  categories: string[];
  series: Series[];
  /** A logarithmic value axis, for figures that span orders of magnitude. */
  log?: boolean;
}

export interface LineChart {
  kind: 'line';
  title: string;
  xAxis: string;
  yAxis: string;
  series: Series[];
}

export type Chart = BarChart | LineChart;

export interface Figure {
  /** Base name of the SVG in docs/bench/ (the benchmark's name). */
  name: string;
  title: string;
  /** Under the title: the run's time and anything the reader must know to read the charts. */
  subtitle: string;
  charts: Chart[];
}

/** A result that cannot be charted: what is missing, and where. */
export class ResultShapeError extends Error {
  readonly code = 'CATCHALL_BENCH_RESULT_SHAPE';
  constructor(message: string) {
    super(message);
    this.name = 'ResultShapeError';
  }
}

/** The label of a row: its `key` field, which must be a non-empty string. */
export function label(result: BenchResult, row: Record<string, unknown>, key: string): string {
  const value = row[key];
  if (typeof value !== 'string' || value === '') {
    throw new ResultShapeError(
      `${result.name} result (${result.at}): a row has no "${key}" text: ${JSON.stringify(row)}`,
    );
  }
  return value;
}

/** The number in `row[key]`; a missing or non-numeric field is a ResultShapeError. */
export function num(result: BenchResult, row: Record<string, unknown>, key: string): number {
  const value = row[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ResultShapeError(
      `${result.name} result (${result.at}): row ${JSON.stringify(firstText(row))} has no number in "${key}" (found ${JSON.stringify(value)})`,
    );
  }
  return value;
}

/** The number in `row[key]`, or null when the row has no such field at all. */
export function optionalNum(
  result: BenchResult,
  row: Record<string, unknown>,
  key: string,
): number | null {
  return key in row ? num(result, row, key) : null;
}

function firstText(row: Record<string, unknown>): unknown {
  return Object.values(row).find((v) => typeof v === 'string') ?? row;
}
