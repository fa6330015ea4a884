import { NotReady } from '@catchall/core';
import { domainRow, inMemoryReadModel, queryApp } from '../../test/support/query-ports';
import { noneMatchHits } from './conditional-get';

const ROW = domainRow('seen.example', 'unknown', { delivered: 3 });

/** The query API over a read model that holds one domain, seen.example. */
const buildTestApp = (tokens = '') => queryApp(inMemoryReadModel([ROW]).readModel, { tokens });

describe('conditional requests on the query API (RFC 9110 section 13)', () => {
  const app = buildTestApp();
  afterAll(() => app.close());

  it('answers a GET whose If-None-Match matches with 304, by weak comparison, in a list, or *', async () => {
    const first = await app.inject('/domains/seen.example');
    expect(first.statusCode).toBe(200);
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^W\/"[^"]+"$/);
    const strong = etag.slice(2);
    for (const ifNoneMatch of [etag, strong, `"other", ${etag}`, '*']) {
      const again = await app.inject({
        url: '/domains/seen.example',
        headers: { 'if-none-match': ifNoneMatch },
      });
      expect({ ifNoneMatch, status: again.statusCode }).toEqual({ ifNoneMatch, status: 304 });
      expect(again.body).toBe('');
      expect(again.headers.etag).toBe(etag);
      expect(again.headers['cache-control']).toBe('public, max-age=1');
    }
    const changed = await app.inject({
      url: '/domains/seen.example',
      headers: { 'if-none-match': '"other"' },
    });
    expect(changed.statusCode).toBe(200);
  });

  it('ignores If-None-Match on an answer other than 200: a domain never seen stays 404', async () => {
    const response = await app.inject({
      url: '/domains/never.example',
      headers: { 'if-none-match': '*' },
    });
    expect(response.statusCode).toBe(404);
    expect(response.json().code).toBe('CATCHALL_DOMAIN_NOT_SEEN');
    expect(response.headers.etag).toBeUndefined();
  });

  it('ignores conditional headers on POST /domains/lookup, which selects no representation', async () => {
    const lookup = () =>
      app.inject({
        method: 'POST',
        url: '/domains/lookup',
        payload: { domains: ['seen.example'] },
        headers: { 'if-none-match': '*' },
      });
    const response = await lookup();
    expect(response.statusCode).toBe(200);
    expect(response.json().results).toEqual([{ input: 'seen.example', found: true, ...ROW }]);
    expect(response.headers.etag).toBeUndefined();
    expect((await lookup()).statusCode).toBe(200);
  });

  it('reads If-None-Match as RFC 9110 section 8.8.3 writes it', () => {
    expect(noneMatchHits(undefined, 'W/"a"')).toBe(false);
    expect(noneMatchHits('"a"', 'W/"a"')).toBe(true);
    expect(noneMatchHits('W/"a,b", "c"', 'W/"a,b"')).toBe(true);
    expect(noneMatchHits(['"x"', 'W/"a"'], 'W/"a"')).toBe(true);
    expect(noneMatchHits('"ab"', 'W/"a"')).toBe(false);
    expect(noneMatchHits(' * ', 'W/"a"')).toBe(true);
  });
});

describe('the query API document describes the service exactly', () => {
  const app = buildTestApp();
  afterAll(() => app.close());

  it('documents the real limit of a lookup and no 304 for it', async () => {
    const document = (await app.inject('/openapi.json')).json();
    const lookup = document.paths['/domains/lookup'].post;
    const schema = lookup.requestBody.content['application/json'].schema;
    expect(schema.properties.domains).toMatchObject({ minItems: 1, maxItems: 3 });
    expect(Object.keys(lookup.responses)).not.toContain('304');
    expect(Object.keys(lookup.responses)).toEqual(expect.arrayContaining(['200', '400', '413']));
  });

  it('answers a lookup past the limit 413 CATCHALL_LOOKUP_TOO_LARGE, not a schema 400', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/domains/lookup',
      payload: { domains: ['a.example', 'b.example', 'c.example', 'd.example'] },
    });
    expect(response.statusCode).toBe(413);
    expect(response.json().code).toBe('CATCHALL_LOOKUP_TOO_LARGE');
  });
});

describe('query API tokens (QUERY_API_TOKENS)', () => {
  const app = buildTestApp('read-token-1, read-token-2');
  afterAll(() => app.close());
  const routes = [
    { method: 'GET' as const, url: '/domains/seen.example' },
    { method: 'GET' as const, url: '/domains?status=unknown' },
    { method: 'POST' as const, url: '/domains/lookup', payload: { domains: ['seen.example'] } },
  ];

  it.each(routes)(
    'answers $method $url without a token 401 CATCHALL_UNAUTHORIZED',
    async (route) => {
      const response = await app.inject(route);
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({
        statusCode: 401,
        code: 'CATCHALL_UNAUTHORIZED',
        error: 'Unauthorized',
      });
      expect(response.headers['www-authenticate']).toBe('Bearer realm="catch-all"');
    },
  );

  it('answers an unknown token 401 with error="invalid_token" in its challenge (RFC 6750 section 3.1)', async () => {
    for (const authorization of ['Bearer ingest-token', 'bearer ingest-token']) {
      const response = await app.inject({
        url: '/domains/seen.example',
        headers: { authorization },
      });
      expect({ authorization, status: response.statusCode }).toEqual({
        authorization,
        status: 401,
      });
      expect(response.json()).toMatchObject({ code: 'CATCHALL_UNAUTHORIZED' });
      expect(response.headers['www-authenticate']).toBe(
        'Bearer realm="catch-all", error="invalid_token"',
      );
    }
  });

  it('answers another scheme, or Bearer without a token, 401 with a challenge and no error code', async () => {
    for (const authorization of ['Basic cmVhZC10b2tlbi0xOg==', 'Bearer', 'Bearer ']) {
      const response = await app.inject({
        url: '/domains/seen.example',
        headers: { authorization },
      });
      expect({ authorization, status: response.statusCode }).toEqual({
        authorization,
        status: 401,
      });
      expect(response.headers['www-authenticate']).toBe('Bearer realm="catch-all"');
    }
  });

  it('takes the scheme name in any case (RFC 9110 section 11.1)', async () => {
    for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
      const response = await app.inject({
        url: '/domains/seen.example',
        headers: { authorization: `${scheme} read-token-1` },
      });
      expect({ scheme, status: response.statusCode }).toEqual({ scheme, status: 200 });
    }
  });

  it('marks answers private, so that no shared cache serves them to a request without a token', async () => {
    const response = await app.inject({
      url: '/domains/seen.example',
      headers: { authorization: 'Bearer read-token-1' },
    });
    expect(response.headers['cache-control']).toBe('private, max-age=1');
  });

  it.each(routes)('answers $method $url with any configured token 200', async (route) => {
    for (const token of ['read-token-1', 'read-token-2']) {
      const response = await app.inject({
        ...route,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.statusCode).toBe(200);
    }
  });

  it('leaves health, readiness, metrics and the OpenAPI document open', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      const response = await app.inject(url);
      expect({ url, status: response.statusCode }).toEqual({ url, status: 200 });
    }
  });

  it('documents the bearer scheme and the 401 of each query route', async () => {
    const document = (await app.inject('/openapi.json')).json();
    expect(document.components.securitySchemes.bearerToken).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    for (const operation of [
      document.paths['/domains/{domain}'].get,
      document.paths['/domains'].get,
      document.paths['/domains/lookup'].post,
    ]) {
      expect(operation.security).toEqual([{ bearerToken: [] }]);
      expect(Object.keys(operation.responses)).toContain('401');
    }
  });

  it('checks no token and documents none when QUERY_API_TOKENS is empty', async () => {
    const open = buildTestApp('');
    const response = await open.inject('/domains/seen.example');
    expect(response.statusCode).toBe(200);
    const document = (await open.inject('/openapi.json')).json();
    expect(document.components?.securitySchemes).toBeUndefined();
    expect(document.paths['/domains/{domain}'].get.security).toBeUndefined();
    expect(Object.keys(document.paths['/domains/{domain}'].get.responses)).not.toContain('401');
    await open.close();
  });
});

describe('readiness of the query API', () => {
  it('given the Postgres check failing, then /readyz answers 503 with Retry-After and names postgres, and catchall_readiness reads 0', async () => {
    const app = queryApp(inMemoryReadModel([ROW]).readModel, {
      postgresReady: () => Promise.reject(new NotReady('Postgres: no answer within 3000 ms')),
    });
    try {
      const answer = await app.inject('/readyz');
      expect(answer.statusCode).toBe(503);
      expect(answer.headers['retry-after']).toBe('1');
      expect(answer.json()).toEqual({
        status: 'not ready',
        checks: { postgres: { ok: false, error: 'Postgres: no answer within 3000 ms' } },
      });
      const metrics = await app.inject('/metrics');
      expect(metrics.body).toMatch(/^catchall_readiness\{check="postgres"[^}]*\} 0$/m);
    } finally {
      await app.close();
    }
  });
});
