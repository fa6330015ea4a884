import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const SCRIPT = path.join(__dirname, '..', '..', 'lib', 'wrk-load.lua');

/**
 * wrk (C, one thread, epoll) as the load generator of the benchmarks: at 20,000 requests/s
 * it takes a quarter of a core where a Node load generator takes most of one, and on a
 * 2-core machine that shares everything the generator's appetite is the API's ceiling. Installed from the
 * distribution's packages when missing (Debian's `wrk`, run as root), else a clear error.
 */
export function ensureWrk(log: (m: string) => void): void {
  if (!spawnSync('wrk', ['--version']).error) return;
  const root = process.getuid?.() === 0;
  if (!root || spawnSync('apt-get', ['--version']).error) {
    throw new Error(
      'wrk is needed by this benchmark: install it (apt-get install wrk, brew install wrk)',
    );
  }
  log('installing wrk (apt-get install wrk)');
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', 'wrk'],
  ]) {
    const r = spawnSync('apt-get', args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (${r.status})`);
  }
}

export interface WrkLoad {
  url: string;
  connections: number;
  seconds: number;
  method?: 'GET' | 'PUT' | 'POST';
  /** Each `{key}` in the path becomes a random number in [0, keys). */
  path: string;
  keys?: number;
  /** Request bodies (JSON), sent in turn. */
  bodies?: string[];
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Events (or lookups) per request, for the per-item rate (default 1). */
  itemsPerRequest?: number;
}

interface WrkResult {
  requests: number;
  seconds: number;
  non2xx: number;
  errors: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** A closed-loop load of `connections` keep-alive connections for `seconds`. */
export async function wrkLoad(l: WrkLoad) {
  const dir = l.bodies ? await mkdtemp(path.join(os.tmpdir(), 'wrk-')) : undefined;
  try {
    const bodies = dir ? path.join(dir, 'bodies') : undefined;
    if (bodies) await writeFile(bodies, l.bodies!.join('\n'));
    const out = await runWrk(l, {
      WRK_METHOD: l.method ?? 'GET',
      WRK_PATH: l.path,
      WRK_KEYS: String(l.keys ?? 1),
      WRK_HEADERS: Object.entries(l.headers ?? {})
        .map(([name, value]) => `${name}: ${value}`)
        .join('\n'),
      ...(bodies ? { WRK_BODIES: bodies } : {}),
    });
    const line = out.split('\n').find((s) => s.startsWith('WRK_RESULT '));
    if (!line) throw new Error(`wrk printed no result:\n${out}`);
    const r = JSON.parse(line.slice('WRK_RESULT '.length)) as WrkResult;
    const ok = r.requests - r.non2xx;
    const round = (ms: number) => Math.round(ms * 100) / 100;
    const items = l.itemsPerRequest ?? 1;
    return {
      connections: l.connections,
      'items/s': Math.round((ok * items) / r.seconds),
      ...(items > 1 ? { 'requests/s': Math.round(ok / r.seconds) } : {}),
      p50: round(r.p50),
      p95: round(r.p95),
      p99: round(r.p99),
      max: round(r.max),
      failed: r.non2xx,
      errors: r.errors,
    };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

function runWrk(l: WrkLoad, env: Record<string, string>): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(
      'wrk',
      ['-t1', `-c${l.connections}`, `-d${l.seconds}s`, '-s', SCRIPT, l.url],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}`)),
    );
  });
}
