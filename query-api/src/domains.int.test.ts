import { DEFAULT_CATCH_ALL_THRESHOLD } from '@catchall/core';
import { createProjectionStore } from '@catchall/consumer';
import { createTestDatabase, type TestDatabase } from '../../test/support/postgres';
import { testLogger } from '../../test/support/logger';
import { createTcpProxy } from '../../test/support/tcp-proxy';
import { waitFor } from '../../test/support/wait';
import { loadQueryConfig } from './config';
import { startQueryService, type QueryService } from './service';

const FIRST = Date.parse('2026-01-01T00:00:00Z');
const LAST = Date.parse('2026-01-02T00:00:00Z');
let nextPartition = 0;

/** Counts written as the projector writes them (so the stored status is its own). */
async function insert(db: TestDatabase, domain: string, delivered: number, bounced: number) {
  const store = createProjectionStore({
    pool: db.pool,
    version: 1,
    threshold: DEFAULT_CATCH_ALL_THRESHOLD,
    synchronousCommit: true,
  });
  const partition = nextPartition++;
  const outcome = await store.flush({
    topic: 'query-test',
    partition,
    expected: null,
    next: 1,
    deltas: new Map([[domain, { delivered, bounced, firstEventAt: FIRST, lastEventAt: LAST }]]),
  });
  expect(outcome).toBe('committed');
}

describe('the query API against a real Postgres', () => {
  let db: TestDatabase;
  let service: QueryService;

  beforeAll(async () => {
    db = await createTestDatabase();
    await insert(db, 'catchall.example', 1001, 0);
    await insert(db, 'threshold.example', 1000, 0);
    await insert(db, 'bounced.example', 5000, 1);
    service = await startQueryService(
      loadQueryConfig({ DATABASE_URL: db.url, LOOKUP_MAX_DOMAINS: '5', LIST_MAX_LIMIT: '50' }),
      testLogger('query-api'),
    );
  });
  afterAll(async () => {
    await service.lifecycle.shutdown('test done');
    await db.drop();
  });

  it('answers a known domain with its status, counts and times', async () => {
    const response = await service.app.inject('/domains/catchall.example');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      domain: 'catchall.example',
      status: 'catch-all',
      delivered: 1001,
      bounced: 0,
      firstEventAt: '2026-01-01T00:00:00.000Z',
      lastEventAt: '2026-01-02T00:00:00.000Z',
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('answers the earliest and latest event times kept (years 0000 and 9999) as they were sent', async () => {
    const store = createProjectionStore({
      pool: db.pool,
      version: 1,
      threshold: DEFAULT_CATCH_ALL_THRESHOLD,
      synchronousCommit: true,
    });
    const first = Date.parse('0000-06-15T12:00:00.000Z');
    const last = Date.parse('9999-12-31T23:59:59.999Z');
    const outcome = await store.flush({
      topic: 'query-test',
      partition: nextPartition++,
      expected: null,
      next: 1,
      deltas: new Map([
        ['ages.example', { delivered: 1, bounced: 0, firstEventAt: first, lastEventAt: last }],
      ]),
    });
    expect(outcome).toBe('committed');
    const response = await service.app.inject('/domains/ages.example');
    expect(response.json()).toMatchObject({
      firstEventAt: '0000-06-15T12:00:00.000Z',
      lastEventAt: '9999-12-31T23:59:59.999Z',
    });
  });

  it('applies the status rule: exactly 1000 deliveries is unknown, any bounce is not catch-all', async () => {
    expect((await service.app.inject('/domains/threshold.example')).json().status).toBe('unknown');
    expect((await service.app.inject('/domains/bounced.example')).json().status).toBe(
      'not catch-all',
    );
  });

  it('normalizes the domain first, so Example.COM. finds example.com', async () => {
    const response = await service.app.inject('/domains/CatchAll.EXAMPLE.');
    expect(response.statusCode).toBe(200);
    expect(response.json().domain).toBe('catchall.example');
  });

  it('answers 404 with status unknown for a domain never seen', async () => {
    const response = await service.app.inject('/domains/never-seen.example');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({
      statusCode: 404,
      code: 'CATCHALL_DOMAIN_NOT_SEEN',
      error: 'Not Found',
      message: expect.any(String),
      domain: 'never-seen.example',
      status: 'unknown',
    });
  });

  it('answers 400 for an invalid domain', async () => {
    const response = await service.app.inject('/domains/a..b');
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'CATCHALL_INVALID_DOMAIN' });
  });

  it('answers 404 for any other path, 405 for another method on a path it serves', async () => {
    expect((await service.app.inject('/domain/example.com')).statusCode).toBe(404);
    expect((await service.app.inject('/domains/example.com/more')).statusCode).toBe(404);
    expect(
      (await service.app.inject({ method: 'DELETE', url: '/domains/example.com' })).statusCode,
    ).toBe(405);
  });

  it('looks up many domains at once, in the order asked, normalized, with per-domain errors', async () => {
    const response = await service.app.inject({
      method: 'POST',
      url: '/domains/lookup',
      payload: { domains: ['CatchAll.EXAMPLE.', 'never-seen.example', 'a..b', 'bounced.example'] },
    });
    expect(response.statusCode).toBe(200);
    const { results } = response.json();
    expect(results).toEqual([
      expect.objectContaining({
        input: 'CatchAll.EXAMPLE.',
        domain: 'catchall.example',
        found: true,
        status: 'catch-all',
        delivered: 1001,
      }),
      {
        input: 'never-seen.example',
        domain: 'never-seen.example',
        found: false,
        status: 'unknown',
      },
      {
        input: 'a..b',
        found: false,
        error: { code: 'CATCHALL_INVALID_DOMAIN', message: expect.stringMatching(/empty label/) },
      },
      expect.objectContaining({ input: 'bounced.example', found: true, status: 'not catch-all' }),
    ]);
  });

  it('answers 413 beyond the maximum number of domains, and 400 for an empty or malformed body', async () => {
    const tooMany = await service.app.inject({
      method: 'POST',
      url: '/domains/lookup',
      payload: {
        domains: ['a.example', 'b.example', 'c.example', 'd.example', 'e.example', 'f.example'],
      },
    });
    expect(tooMany.statusCode).toBe(413);
    expect(tooMany.json()).toMatchObject({ code: 'CATCHALL_LOOKUP_TOO_LARGE' });
    const empty = await service.app.inject({
      method: 'POST',
      url: '/domains/lookup',
      payload: { domains: [] },
    });
    expect(empty.statusCode).toBe(400);
    const extra = await service.app.inject({
      method: 'POST',
      url: '/domains/lookup',
      payload: { domains: ['a.example'], limit: 3 },
    });
    expect(extra.statusCode).toBe(400);
  });

  it('serves its OpenAPI document', async () => {
    const response = await service.app.inject('/openapi.json');
    expect(response.statusCode).toBe(200);
    expect(Object.keys(response.json().paths).sort()).toEqual([
      '/domains',
      '/domains/lookup',
      '/domains/{domain}',
    ]);
  });

  it('lets a client cache an answer within the staleness bound and revalidate it by ETag', async () => {
    await insert(db, 'cached.example', 5, 0);
    const first = await service.app.inject('/domains/cached.example');
    expect(first.statusCode).toBe(200);
    expect(first.headers['cache-control']).toBe('public, max-age=1');
    const tag = first.headers.etag as string;
    expect(tag).toMatch(/^W\/"/);
    const unchanged = await service.app.inject({
      url: '/domains/cached.example',
      headers: { 'if-none-match': tag },
    });
    expect(unchanged.statusCode).toBe(304);
    expect(unchanged.body).toBe('');
    await insert(db, 'cached.example', 1, 0);
    const changed = await service.app.inject({
      url: '/domains/cached.example',
      headers: { 'if-none-match': tag },
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.json().delivered).toBe(6);
    expect(changed.headers.etag).not.toBe(tag);
    const notSeen = await service.app.inject('/domains/never-seen.example');
    expect(notSeen.headers['cache-control']).toBe('public, max-age=1');
  });
});

describe('listing domains by status', () => {
  let db: TestDatabase;
  let service: QueryService;
  const catchAll = Array.from({ length: 25 }, (_, i) => `c${String(i).padStart(2, '0')}.example`);

  beforeAll(async () => {
    db = await createTestDatabase();
    for (const domain of catchAll) await insert(db, domain, 2000, 0);
    await insert(db, 'bounced.example', 10, 1);
    await insert(db, 'young.example', 3, 0);
    service = await startQueryService(
      loadQueryConfig({ DATABASE_URL: db.url, LIST_MAX_LIMIT: '10' }),
      testLogger('query-api'),
    );
  });
  afterAll(async () => {
    await service.lifecycle.shutdown('test done');
    await db.drop();
  });

  async function page(query: string) {
    const response = await service.app.inject(`/domains?${query}`);
    expect(response.statusCode).toBe(200);
    return response.json() as {
      status: string;
      items: { domain: string; status: string }[];
      nextCursor: string | null;
    };
  }

  it('pages through every domain of a status, in domain order, once each', async () => {
    const seen: string[] = [];
    let cursor: string | null = '';
    let pages = 0;
    while (cursor !== null) {
      const body = await page(`status=catch-all&limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      expect(body.items.every((item) => item.status === 'catch-all')).toBe(true);
      seen.push(...body.items.map((item) => item.domain));
      cursor = body.nextCursor;
      pages += 1;
    }
    expect(seen).toEqual(catchAll);
    expect(pages).toBe(3);
    expect((await page('status=not%20catch-all')).items.map((i) => i.domain)).toEqual([
      'bounced.example',
    ]);
    expect((await page('status=unknown')).items.map((i) => i.domain)).toEqual(['young.example']);
  });

  it('stays stable under concurrent writes: nothing repeats or is skipped', async () => {
    const first = await page('status=catch-all&limit=10');
    expect(first.items.at(-1)!.domain).toBe('c09.example');
    // Writes between the pages: a new domain before the cursor, one after it, one that
    // stops being a catch-all, and more deliveries for a domain on a later page.
    await insert(db, 'a-new.example', 2000, 0);
    await insert(db, 'z-new.example', 2000, 0);
    await insert(db, 'c15.example', 0, 1);
    await insert(db, 'c20.example', 50, 0);
    const rest: string[] = [];
    let cursor = first.nextCursor;
    while (cursor !== null) {
      const body = await page(`status=catch-all&limit=10&cursor=${cursor}`);
      rest.push(...body.items.map((item) => item.domain));
      cursor = body.nextCursor;
    }
    const expected = [...catchAll.slice(10).filter((d) => d !== 'c15.example'), 'z-new.example'];
    expect(rest).toEqual(expected);
    expect(rest.filter((d) => first.items.some((item) => item.domain === d))).toEqual([]);
  });

  it('refuses a bad status, limit or cursor with 400 saying which', async () => {
    const status = await service.app.inject('/domains?status=maybe');
    expect(status.statusCode).toBe(400);
    expect(status.json().message).toMatch(/status/);
    const limit = await service.app.inject('/domains?status=catch-all&limit=11');
    expect(limit.statusCode).toBe(400);
    expect(limit.json().message).toMatch(/limit/);
    const cursor = await service.app.inject('/domains?status=catch-all&cursor=not-a-cursor');
    expect(cursor.statusCode).toBe(400);
    expect(cursor.json()).toMatchObject({ code: 'CATCHALL_INVALID_CURSOR' });
    const missing = await service.app.inject('/domains');
    expect(missing.statusCode).toBe(400);
  });

  it('refuses a forged cursor, well-formed but not one it gave (a NUL, an upper-case name), with 400', async () => {
    for (const after of ['a\u0000b', 'Example.COM', 'not a domain']) {
      const forged = Buffer.from(JSON.stringify({ after })).toString('base64url');
      const response = await service.app.inject(`/domains?status=unknown&cursor=${forged}`);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'CATCHALL_INVALID_CURSOR' });
    }
  });
});

describe('the query API with Postgres unreachable', () => {
  it('answers 503 with Retry-After and is not ready', async () => {
    const service = await startQueryService(
      loadQueryConfig({ DATABASE_URL: 'postgres://postgres:postgres@127.0.0.1:9/none' }),
      testLogger('query-api'),
    );
    try {
      const response = await service.app.inject('/domains/example.com');
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('1');
      expect(response.json()).toMatchObject({ code: 'CATCHALL_UNAVAILABLE' });
      expect((await service.app.inject('/readyz')).statusCode).toBe(503);
    } finally {
      await service.lifecycle.shutdown('test done');
    }
  });
});

describe('the query API with a Postgres that stops answering', () => {
  it('answers 503 with Retry-After within PG_QUERY_TIMEOUT_MS instead of hanging', async () => {
    const db = await createTestDatabase();
    const url = new URL(db.url);
    const proxy = await createTcpProxy({ host: url.hostname, port: Number(url.port) });
    url.port = String(proxy.port);
    const service = await startQueryService(
      loadQueryConfig({ DATABASE_URL: url.toString(), PG_QUERY_TIMEOUT_MS: '500' }),
      testLogger('query-api'),
    );
    try {
      // A pooled connection first, as a running service has.
      expect((await service.app.inject('/domains/example.com')).statusCode).toBe(404);
      proxy.freeze();
      const response = await service.app.inject('/domains/example.com');
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('1');
      expect(response.json()).toMatchObject({ code: 'CATCHALL_UNAVAILABLE' });
      await proxy.restore();
      await waitFor('answers again', async () => {
        return (await service.app.inject('/domains/example.com')).statusCode === 404;
      });
    } finally {
      await service.lifecycle.shutdown('test done');
      await proxy.close();
      await db.drop();
    }
  });
});
