import { execFileSync } from 'node:child_process';
import { INGEST_NODE_OPTIONS, withNodeOptions } from './node-options';

/**
 * The largest young generation (both semi-spaces, MB) a node process started with
 * `nodeOptions` reaches while it allocates batches of small objects and keeps the last
 * twenty alive: enough surviving scavenges for V8 to grow its semi-spaces to their maximum.
 */
function peakYoungGenerationMb(nodeOptions: string): number {
  const script = `
    const v8 = require('node:v8');
    const ring = new Array(20);
    let peak = 0;
    for (let r = 0; r < 3000; r++) {
      const batch = [];
      for (let i = 0; i < 5000; i++) batch.push({ i, s: 'x' + i });
      ring[r % 20] = batch;
      const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
      peak = Math.max(peak, young.space_size);
    }
    process.stdout.write(String(peak / 2 ** 20));`;
  const out = execFileSync(process.execPath, ['-e', script], {
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
    encoding: 'utf8',
  });
  return Number(out);
}

describe('the ingest API node options', () => {
  it('put ours first and what the environment held after, or ours alone', () => {
    expect(withNodeOptions(INGEST_NODE_OPTIONS, undefined)).toBe('--max-semi-space-size=64');
    expect(withNodeOptions(INGEST_NODE_OPTIONS, '')).toBe('--max-semi-space-size=64');
    expect(withNodeOptions(INGEST_NODE_OPTIONS, '--enable-source-maps')).toBe(
      '--max-semi-space-size=64 --enable-source-maps',
    );
  });

  it('let the young generation grow to two 64 MB semi-spaces, four times the default', () => {
    expect(peakYoungGenerationMb('')).toBe(32);
    expect(peakYoungGenerationMb(withNodeOptions(INGEST_NODE_OPTIONS, undefined))).toBe(128);
  });

  it("leave the last word to an operator's own NODE_OPTIONS", () => {
    const options = withNodeOptions(INGEST_NODE_OPTIONS, '--max-semi-space-size=8');
    expect(peakYoungGenerationMb(options)).toBe(16);
  });
});
