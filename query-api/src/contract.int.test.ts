import { gzipSync } from 'node:zlib';
import { DEFAULT_CATCH_ALL_THRESHOLD } from '@catchall/core';
import { createProjectionStore } from '@catchall/consumer';
import { createTestDatabase, type TestDatabase } from '../../test/support/postgres';
import { testLogger } from '../../test/support/logger';
import { loadQueryConfig } from './config';
import { startQueryService, type QueryService } from './service';

/** 194 characters: three labels of 60, then example.com. */
const NAME_194 = `${'a'.repeat(60)}.`.repeat(3) + 'example.com';

describe('the query API contract: every valid input works, every bad one gets a 4xx with a code', () => {
  let db: TestDatabase;
  let service: QueryService;

  beforeAll(async () => {
    db = await createTestDatabase();
    const store = createProjectionStore({
      pool: db.pool,
      version: 1,
      threshold: DEFAULT_CATCH_ALL_THRESHOLD,
      synchronousCommit: true,
    });
    const at = Date.parse('2026-01-01T00:00:00Z');
    await store.flush({
      topic: 'contract-test',
      partition: 0,
      expected: null,
      next: 1,
      deltas: new Map([
        [NAME_194, { delivered: 2, bounced: 0, firstEventAt: at, lastEventAt: at }],
      ]),
    });
    service = await startQueryService(
      loadQueryConfig({ DATABASE_URL: db.url, LIST_MAX_LIMIT: '50' }),
      testLogger('query-api'),
    );
  });
  afterAll(async () => {
    await service.lifecycle.shutdown('test done');
    await db.drop();
  });

  it('finds a 194-character name on the path as in a lookup', async () => {
    const single = await service.app.inject(`/domains/${NAME_194}`);
    expect(single.statusCode).toBe(200);
    expect(single.json()).toMatchObject({ domain: NAME_194, delivered: 2 });
    const lookup = await service.app.inject({
      method: 'POST',
      url: '/domains/lookup',
      payload: { domains: [NAME_194] },
    });
    expect(lookup.json().results[0]).toMatchObject({ found: true, domain: NAME_194 });
  });

  it('takes a percent-encoded Unicode name whose punycode is near 253 characters', async () => {
    const label = '\u00fc'.repeat(20);
    const name = Array.from({ length: 7 }, () => label).join('.') + '.de';
    const response = await service.app.inject(`/domains/${encodeURIComponent(name)}`);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'CATCHALL_DOMAIN_NOT_SEEN', status: 'unknown' });
  });

  it('refuses an address as a domain (RFC 1123 section 2.1)', async () => {
    const response = await service.app.inject('/domains/1.2.3.4');
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'CATCHALL_INVALID_DOMAIN' });
  });

  it('answers 400 for a limit that is not a plain integer, and pages without one', async () => {
    for (const limit of ['Infinity', '1e2', '0x10', '-1', '0', '51', '2.5', '']) {
      const response = await service.app.inject(`/domains?status=catch-all&limit=${limit}`);
      expect({ limit, status: response.statusCode }).toEqual({ limit, status: 400 });
      expect(response.json()).toMatchObject({ code: 'CATCHALL_INVALID_REQUEST' });
    }
    const page = await service.app.inject('/domains?status=unknown');
    expect(page.statusCode).toBe(200);
    expect(page.json().items.map((i: { domain: string }) => i.domain)).toEqual([NAME_194]);
  });

  it('coerces nothing in a lookup: numbers, arrays and a bare string are refused', async () => {
    for (const payload of [
      '{"domains":[1e400]}',
      '{"domains":"example.com"}',
      '{"domains":[["example.com"]]}',
      '{"domains":[null]}',
      '{"domains":[true]}',
    ]) {
      const response = await service.app.inject({
        method: 'POST',
        url: '/domains/lookup',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect({ payload, status: response.statusCode }).toEqual({ payload, status: 400 });
      expect(response.json()).toMatchObject({ code: 'CATCHALL_INVALID_REQUEST' });
    }
  });

  it('takes a gzip lookup body', async () => {
    const response = await service.app.inject({
      method: 'POST',
      url: '/domains/lookup',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: gzipSync(JSON.stringify({ domains: [NAME_194] })),
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().results[0].found).toBe(true);
  });

  it('answers 405 with Allow for another method on an existing path', async () => {
    const del = await service.app.inject({ method: 'DELETE', url: '/domains/example.com' });
    expect(del.statusCode).toBe(405);
    expect(del.headers.allow).toBe('GET, HEAD');
    expect(del.json()).toMatchObject({ code: 'CATCHALL_METHOD_NOT_ALLOWED' });
    const options = await service.app.inject({ method: 'OPTIONS', url: '/domains' });
    expect(options.statusCode).toBe(405);
    expect(options.headers.allow).toBe('GET, HEAD');
  });

  it('documents every answer, an optional limit and the real domain limit', async () => {
    const document = (await service.app.inject('/openapi.json')).json();
    const list = document.paths['/domains'].get;
    const limit = list.parameters.find((p: { name: string }) => p.name === 'limit');
    expect(limit.required).toBe(false);
    expect(limit.schema).toMatchObject({ minimum: 1, maximum: 50 });
    const single = document.paths['/domains/{domain}'].get;
    const domain = single.parameters.find((p: { name: string }) => p.name === 'domain');
    expect(domain.schema).toMatchObject({ maxLength: 1024 });
    expect(Object.keys(single.responses).sort()).toEqual(
      ['200', '304', '400', '404', '408', '414', '415', '417', '431', '500', '503'].sort(),
    );
    const lookup = document.paths['/domains/lookup'].post;
    expect(Object.keys(lookup.responses)).toEqual(
      expect.arrayContaining(['200', '400', '413', '503']),
    );
  });
});
