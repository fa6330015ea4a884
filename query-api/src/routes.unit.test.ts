import pino from 'pino';
import { Registry } from 'prom-client';
import type { DomainStatus } from '@catchall/core';
import { buildApp } from './app';
import type { DomainRow, ReadModel } from './read-model';

function row(domain: string, status: DomainStatus): DomainRow {
  return {
    domain,
    status,
    delivered: status === 'catch-all' ? 7 : 0,
    bounced: status === 'not catch-all' ? 1 : 0,
    firstEventAt: '2024-05-01T12:00:00.000Z',
    lastEventAt: '2024-05-01T12:00:01.000Z',
    updatedAt: '2024-05-01T12:00:02.000Z',
  };
}

/** An in-memory read model with the semantics of the Postgres one: keyset pages in domain order. */
function inMemoryReadModel(rows: DomainRow[]): ReadModel {
  const byDomain = new Map(rows.map((r) => [r.domain, r]));
  return {
    find: async (domain) => byDomain.get(domain),
    findMany: async (domains) =>
      new Map(domains.flatMap((d) => (byDomain.has(d) ? [[d, byDomain.get(d)!] as const] : []))),
    list: async (status, after, limit) =>
      [...byDomain.values()]
        .filter((r) => r.status === status && (after === undefined || r.domain > after))
        .sort((a, b) => (a.domain < b.domain ? -1 : 1))
        .slice(0, limit),
    livePositions: async () => new Map(),
    ping: async () => undefined,
  };
}

const CATCH_ALL = ['a.example', 'b.example', 'c.example', 'd.example', 'e.example'];

function buildTestApp() {
  return buildApp({
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
    readModel: inMemoryReadModel([
      ...CATCH_ALL.map((d) => row(d, 'catch-all')),
      row('bounce.example', 'not catch-all'),
    ]),
    lookupMaxDomains: 3,
    listMaxLimit: 10,
    cacheMaxAgeS: 1,
    topic: 'domain-events',
    consistencyWaitMs: 2000,
  });
}

describe('the query API routes', () => {
  const app = buildTestApp();
  afterAll(() => app.close());

  it('given five catch-all domains, when listed two at a time, then each comes once, in domain order, and the last page has no cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null | undefined;
    let pages = 0;
    do {
      const query = `status=catch-all&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const response = await app.inject({ method: 'GET', url: `/domains?${query}` });
      expect(response.statusCode).toBe(200);
      const body = response.json<{ items: { domain: string }[]; nextCursor: string | null }>();
      seen.push(...body.items.map((i) => i.domain));
      cursor = body.nextCursor;
      pages += 1;
    } while (cursor);
    expect(seen).toEqual(CATCH_ALL);
    expect(pages).toBe(3);
  });

  it('refuses a cursor it did not give out with 400 CATCHALL_INVALID_CURSOR', async () => {
    const forged = Buffer.from(JSON.stringify({ after: 'NOT A DOMAIN' })).toString('base64url');
    for (const cursor of [forged, 'not-base64-json']) {
      const response = await app.inject({
        method: 'GET',
        url: `/domains?status=catch-all&cursor=${cursor}`,
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'CATCHALL_INVALID_CURSOR' });
    }
  });

  it('refuses a limit past LIST_MAX_LIMIT, a limit that is no integer and an unknown status with 400 and a code', async () => {
    for (const query of [
      'status=catch-all&limit=11',
      'status=catch-all&limit=Infinity',
      'status=maybe',
    ]) {
      const response = await app.inject({ method: 'GET', url: `/domains?${query}` });
      expect({ query, status: response.statusCode }).toEqual({ query, status: 400 });
      expect(response.json<{ code: string }>().code).toMatch(/^CATCHALL_/);
    }
  });

  it('finds a domain however it is written, and answers 400 for an invalid one and 404 for one never seen', async () => {
    const found = await app.inject({ method: 'GET', url: '/domains/A.Example.' });
    expect(found.statusCode).toBe(200);
    expect(found.json()).toMatchObject({ domain: 'a.example', status: 'catch-all' });
    const invalid = await app.inject({ method: 'GET', url: '/domains/1.2.3.4' });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({ code: 'CATCHALL_INVALID_DOMAIN' });
    const unseen = await app.inject({ method: 'GET', url: '/domains/never.example' });
    expect(unseen.statusCode).toBe(404);
    expect(unseen.json()).toMatchObject({ status: 'unknown' });
  });

  it('answers a lookup in the order asked, an invalid name with its own error without refusing the others', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/domains/lookup',
      payload: { domains: ['B.example', 'not a domain', 'never.example'] },
    });
    expect(response.statusCode).toBe(200);
    const { results } = response.json<{ results: Record<string, unknown>[] }>();
    expect(results.map((r) => r.input)).toEqual(['B.example', 'not a domain', 'never.example']);
    expect(results[0]).toMatchObject({ found: true, domain: 'b.example', status: 'catch-all' });
    expect(results[1]).toHaveProperty('error');
    expect(results[2]).toMatchObject({ found: false, status: 'unknown' });
  });
});
