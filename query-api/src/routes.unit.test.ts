import { domainRow, inMemoryReadModel, queryApp } from '../../test/support/query-ports';

const CATCH_ALL = ['a.example', 'b.example', 'c.example', 'd.example', 'e.example'];

function buildTestApp() {
  return queryApp(
    inMemoryReadModel([
      ...CATCH_ALL.map((d) => domainRow(d, 'catch-all')),
      domainRow('bounce.example', 'not catch-all'),
    ]).readModel,
  );
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
