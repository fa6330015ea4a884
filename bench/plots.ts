/**
 * Renders the charts of the newest result of each benchmark into docs/bench/<name>.svg, the
 * images the README shows. Each benchmark also writes its own SVG beside its JSON when it
 * ends; this re-renders them, for example after a change of the charts.
 *
 *   npm run bench:plots [-- --results <folder>] [--out <folder>]
 *
 * --results: where the results are (default bench/results); --out: where the SVGs go
 * (default docs/bench).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ResultShapeError } from './lib/charts/figure';
import { newestResults, ResultsFolderError } from './lib/charts/newest-results';
import { resultSvg } from './lib/charts/render';
import { hasFigure } from './lib/charts/specs';

function main(): void {
  const { values } = parseArgs({
    options: {
      results: { type: 'string', default: path.join(__dirname, '..', 'results') },
      out: { type: 'string', default: path.join(__dirname, '..', '..', 'docs', 'bench') },
    },
  });
  const results = path.resolve(values.results);
  const out = path.resolve(values.out);
  mkdirSync(out, { recursive: true });
  for (const [name, { file, result }] of newestResults(results)) {
    if (!hasFigure(name)) {
      console.log(`${name}: no charts for this benchmark (${path.relative(process.cwd(), file)})`);
      continue;
    }
    const target = path.join(out, `${name}.svg`);
    writeFileSync(target, resultSvg(result));
    console.log(
      `${name}: ${path.relative(process.cwd(), target)} from ${path.relative(process.cwd(), file)}`,
    );
  }
}

try {
  main();
} catch (err) {
  // The errors that say what to do are shown alone; anything else with its stack.
  const told = err instanceof ResultsFolderError || err instanceof ResultShapeError;
  console.error(told ? err.message : err);
  process.exit(1);
}
