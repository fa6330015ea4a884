import { createTestDatabase, type TestDatabase } from '../../test/support/postgres';
import { testLogger } from '../../test/support/logger';
import { loadQueryConfig } from './config';
import { startQueryService, type QueryService } from './service';

async function insert(db: TestDatabase, domain: string, delivered: number, bounced: number) {
  await db.pool.query(
    `INSERT INTO domain_stats (version, domain, delivered, bounced, first_event_at, last_event_at, updated_at)
     VALUES (1, $1, $2, $3, '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z')`,
    [domain, delivered, bounced],
  );
}

describe('the query API against a real Postgres', () => {
  let db: TestDatabase;
  let service: QueryService;

  beforeAll(async () => {
    db = await createTestDatabase();
    await insert(db, 'catchall.example', 1001, 0);
    await insert(db, 'threshold.example', 1000, 0);
    await insert(db, 'bounced.example', 5000, 1);
    service = startQueryService(
      loadQueryConfig({ DATABASE_URL: db.url, LOOKUP_MAX_DOMAINS: '5' }),
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
      updatedAt: '2026-01-03T00:00:00.000Z',
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

  it('answers 404 for any other path', async () => {
    expect((await service.app.inject('/domain/example.com')).statusCode).toBe(404);
    expect(
      (await service.app.inject({ method: 'DELETE', url: '/domains/example.com' })).statusCode,
    ).toBe(404);
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
      '/domains/lookup',
      '/domains/{domain}',
    ]);
  });
});

describe('the query API with Postgres unreachable', () => {
  it('answers 503 with Retry-After and is not ready', async () => {
    const service = startQueryService(
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
