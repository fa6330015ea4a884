import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { resultSvg } from './charts/render';
import { interruption } from './interruption';

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
}

/** A latency histogram in milliseconds (microsecond resolution). */
export function latencyHistogram() {
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  return {
    record(ms: number) {
      h.recordValue(Math.max(1, Math.round(ms * 1000)));
    },
    summary(): LatencySummary {
      const at = (p: number) => Math.round(h.getValueAtPercentile(p) / 10) / 100;
      return { p50: at(50), p95: at(95), p99: at(99) };
    },
  };
}

/** Where report writes: bench/results/ from the compiled benchmarks (bench/dist/lib). */
export function resultsDir(): string {
  return path.join(__dirname, '..', '..', 'results');
}

/**
 * Prints a table and writes the results as JSON under bench/results/ (ignored by git), with
 * `extra` fields beside rows and notes (catch-up's `progress`), and their charts as an SVG
 * of the same name beside it (what it draws: charts/specs.ts). Throws when the charts cannot
 * be drawn, after the JSON is written. An interrupted run (see withStack) prints its table
 * and writes nothing: its figures may come from loads cut short.
 */
export function report(
  name: string,
  rows: Record<string, unknown>[],
  notes: string[],
  extra: Record<string, unknown> = {},
): void {
  console.log(`\n${name}`);
  console.table(rows);
  for (const note of notes) console.log(note);
  const signal = interruption();
  if (signal !== undefined) {
    console.log(`interrupted by ${signal}: no results written`);
    return;
  }
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const result = { name, at: new Date().toISOString(), rows, notes, ...extra };
  writeFileSync(file, JSON.stringify(result, null, 2));
  console.log(`results written to ${path.relative(process.cwd(), file)}`);
  const svg = file.replace(/\.json$/, '.svg');
  writeFileSync(svg, resultSvg(result));
  console.log(
    `charts written to ${path.relative(process.cwd(), svg)} (npm run bench:plots: docs/bench/)`,
  );
}
