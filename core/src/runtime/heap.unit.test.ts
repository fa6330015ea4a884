import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { MAX_HEAP_GROWING_PERCENT, setHeapGrowingPercent } from './heap';

const built = path.join(__dirname, '..', '..', 'dist', 'runtime', 'heap.js');

/**
 * Peak committed heap (MB) of a fresh process that keeps about 30 MB and allocates a batch of
 * 20,000 small objects at a time, holding the last eight (so that they outlive young
 * collections and reach the old generation, as a projector's fetched batches do).
 */
function peakHeapMb(percent: number): number {
  const script = `
    const v8 = require('node:v8');
    require(${JSON.stringify(built)}).setHeapGrowingPercent(${percent});
    const live = [];
    for (let i = 0; i < 200000; i++) live.push({ a: 'x' + i, b: i, c: [i] });
    const ring = new Array(8);
    let peak = 0;
    for (let r = 0; r < 200; r++) {
      const batch = [];
      for (let i = 0; i < 20000; i++) batch.push({ s: 'y' + i + ':' + r, n: i, arr: [i, r] });
      ring[r % 8] = batch;
      peak = Math.max(peak, v8.getHeapStatistics().total_heap_size);
    }
    process.stdout.write(String(peak / 1048576));
  `;
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
}

describe('setHeapGrowingPercent', () => {
  beforeAll(() => {
    if (!existsSync(built)) {
      throw new Error('core is not built: run `npx tsc -b` (npm test builds before it tests)');
    }
  });

  it('given 100, when a process allocates fast and keeps little, then its heap peaks well below the heap V8 lets grow on its own', () => {
    const own = peakHeapMb(0);
    const fixed = peakHeapMb(100);
    // Measured: about 165 MB on its own, 108 MB at 100 %.
    expect(fixed).toBeLessThan(own * 0.85);
  });

  it.each([-1, 1.5, MAX_HEAP_GROWING_PERCENT + 1, Number.NaN])(
    'given %p, then it throws a RangeError',
    (percent) => {
      expect(() => setHeapGrowingPercent(percent)).toThrow(RangeError);
    },
  );
});
