import { readFileSync } from 'node:fs';
import net from 'node:net';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import {
  requestOnNewConnection,
  spawnService,
  spawnServiceProcess,
  type RunningService,
} from '../support/services';
import { waitFor } from '../support/wait';

/** The worker processes of a primary (Linux: its task's children). */
function workersOf(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return children === '' ? [] : children.split(/\s+/).map(Number);
}

function requestsCounted(metrics: string, route: string, status: number): number {
  const line = metrics
    .split('\n')
    .find(
      (l) =>
        l.startsWith('catchall_http_requests_total{') &&
        l.includes(`route="${route}"`) &&
        l.includes(`status="${status}"`),
    );
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('the query API in several processes (WORKERS=2)', () => {
  let db: TestDatabase;
  let query: RunningService;

  beforeAll(async () => {
    db = await createTestDatabase();
    query = await spawnService('query-api', { DATABASE_URL: db.url, WORKERS: '2' });
    await waitFor('two workers', async () => workersOf(query.child.pid!).length === 2);
  });

  afterAll(async () => {
    await query.stop();
    await db.drop();
  });

  it('counts in /metrics the requests of every worker, not only of the one scraped', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        requestOnNewConnection('GET', `${query.url}/domains/never-${i}.workers.example`),
      ),
    );
    expect(statuses).toEqual(Array(10).fill(404));
    // Each worker counts a request once its answer is sent: the sum gets there a moment later.
    await waitFor('all ten requests in /metrics', async () => {
      const metrics = await (await fetch(`${query.url}/metrics`)).text();
      return requestsCounted(metrics, '/domains/:domain', 404) === 10;
    });
  });

  it('replaces a worker that dies, and answers meanwhile', async () => {
    const [victim, survivor] = workersOf(query.child.pid!);
    process.kill(victim!, 'SIGKILL');
    await waitFor('the primary to see it', () => query.output().includes('worker died'));
    for (let i = 0; i < 4; i += 1) {
      expect(await requestOnNewConnection('GET', `${query.url}/healthz`)).toBe(200);
    }
    const replaced = await waitFor('a new worker', async () => {
      const now = workersOf(query.child.pid!);
      return now.length === 2 && !now.includes(victim!) ? now : undefined;
    });
    expect(replaced).toContain(survivor);
  });

  it('stops every worker on SIGTERM and exits 0', async () => {
    const workers = workersOf(query.child.pid!);
    expect(await query.stop()).toBe(0);
    for (const pid of workers) {
      expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    }
  });
});

describe('the query API with WORKERS=2 on a port that is taken', () => {
  let blocker: net.Server;

  beforeAll(async () => {
    blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it('exits 1 and says why, instead of starting workers again and again', async () => {
    const port = (blocker.address() as net.AddressInfo).port;
    const query = spawnServiceProcess(
      'query-api',
      { DATABASE_URL: 'postgres://postgres:postgres@127.0.0.1:1/unused', WORKERS: '2' },
      port,
    );
    const code = await query.exited;
    expect(code).toBe(1);
    expect(query.output()).toContain('EADDRINUSE');
    expect(query.output()).toContain('a worker failed before it listened');
  });
});
