import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** The results folder is missing, empty, or holds a file that is not a result. */
export class ResultsFolderError extends Error {
  readonly code = 'CATCHALL_BENCH_RESULTS_FOLDER';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ResultsFolderError';
  }
}

/** A result file and its parsed JSON (checked as it is charted, by `figureOf`). */
export interface ResultFile {
  file: string;
  result: { name: string; at: string } & Record<string, unknown>;
}

/**
 * The newest result of each benchmark in `folder` (the *.json files the benchmarks write, by
 * their `name`, newest by their `at` time). Throws, saying what to do, when the folder does
 * not exist or holds no result, and names the file that is not a benchmark result.
 */
export function newestResults(folder: string): Map<string, ResultFile> {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new ResultsFolderError(
      `no results folder at ${folder}: run a benchmark first (npm run bench:ingest, bench:catch-up, ...) or name one with --results <folder>`,
    );
  }
  const newest = new Map<string, ResultFile>();
  for (const entry of readdirSync(folder).filter((f) => f.endsWith('.json'))) {
    const file = path.join(folder, entry);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ResultsFolderError(`${file} is not JSON: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const result = parsed as ResultFile['result'];
    if (typeof result?.name !== 'string' || typeof result.at !== 'string') {
      throw new ResultsFolderError(
        `${file} is not a benchmark result: it has no "name" and "at" text`,
      );
    }
    const known = newest.get(result.name);
    if (!known || known.result.at < result.at) newest.set(result.name, { file, result });
  }
  if (newest.size === 0) {
    throw new ResultsFolderError(
      `no benchmark results (*.json) in ${folder}: run a benchmark first`,
    );
  }
  return newest;
}
