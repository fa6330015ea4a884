import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { errorCatalogue } from '@catchall/core';
import { queryApp } from '../../test/support/query-ports';
import { createReadModel } from './read-model';

/**
 * A pg pool whose every query fails with `error`: the smallest stand-in for Postgres in a
 * given state, so that the read model's classification and the routes' answers are ours
 * under test, not pg's.
 */
function poolFailingWith(error: Error): pg.Pool {
  return { query: () => Promise.reject(error) } as Partial<pg.Pool> as pg.Pool;
}

/** An error as pg gives it when Postgres answers with this SQLSTATE. */
function sqlState(code: string, message: string): pg.DatabaseError {
  return Object.assign(new pg.DatabaseError(message, message.length, 'error'), { code });
}

function queryAppOver(pool: pg.Pool): FastifyInstance {
  return queryApp(createReadModel({ pool }), { lookupMaxDomains: 10 });
}

/** One request to each route that reads the read model. */
const readingRoutes = [
  { name: 'GET /domains/:domain', request: { method: 'GET', url: '/domains/example.com' } },
  {
    name: 'POST /domains/lookup',
    request: {
      method: 'POST',
      url: '/domains/lookup',
      payload: { domains: ['example.com', 'other.example'] },
    },
  },
  { name: 'GET /domains?status=', request: { method: 'GET', url: '/domains?status=catch-all' } },
] as const;

describe('the query API when the read model fails', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it.each(readingRoutes)(
    'given Postgres unreachable, when $name is asked, then it answers 503 CATCHALL_UNAVAILABLE with Retry-After and a JSON error body',
    async ({ request }) => {
      const refused = Object.assign(new Error('connect ECONNREFUSED 10.9.8.7:5432'), {
        code: 'ECONNREFUSED',
      });
      app = queryAppOver(poolFailingWith(refused));
      const answer = await app.inject(request);
      expect(answer.statusCode).toBe(503);
      expect(answer.headers['retry-after']).toBe('1');
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(answer.json()).toEqual({
        statusCode: 503,
        code: errorCatalogue.unavailable.code,
        error: 'Service Unavailable',
        message: 'Postgres is unavailable; nothing was accepted, retry later',
      });
      expect(answer.body).not.toContain('10.9.8.7');
      // Not a representation of the domain: neither cached nor tagged.
      expect(answer.headers['cache-control']).toBeUndefined();
      expect(answer.headers.etag).toBeUndefined();
    },
  );

  it('given Postgres refusing for now (SQLSTATE 57P01, 53300, 40001), then the answer is 503 too', async () => {
    for (const state of ['57P01', '53300', '40001']) {
      app = queryAppOver(poolFailingWith(sqlState(state, 'terminating connection')));
      const answer = await app.inject('/domains/example.com');
      expect({ state, status: answer.statusCode, code: answer.json().code }).toEqual({
        state,
        status: 503,
        code: errorCatalogue.unavailable.code,
      });
      await app.close();
      app = undefined;
    }
  });

  it.each([
    ['40001', 'canceling statement due to conflict with recovery'],
    ['40P01', 'canceling statement due to conflict with recovery'],
    ['40001', 'terminating connection due to conflict with recovery'],
    ['57P04', 'terminating connection due to conflict with recovery'],
  ])(
    'given a read replica whose recovery cancels the query (SQLSTATE %s, %s), then the answer is a retriable 503 CATCHALL_UNAVAILABLE',
    async (state, message) => {
      app = queryAppOver(poolFailingWith(sqlState(state, message)));
      for (const { request } of readingRoutes) {
        const answer = await app.inject(request);
        expect(answer.statusCode).toBe(503);
        expect(answer.headers['retry-after']).toBe('1');
        expect(answer.json()).toMatchObject({ code: errorCatalogue.unavailable.code });
      }
      expect(errorCatalogue.unavailable.retriable).toBe(true);
    },
  );

  it('given a read-only server refusing a write (SQLSTATE 25006), then it is not taken for a passing failure', async () => {
    app = queryAppOver(
      poolFailingWith(sqlState('25006', 'cannot execute UPDATE in a read-only transaction')),
    );
    const answer = await app.inject('/domains/example.com');
    expect(answer.statusCode).toBe(500);
    expect(answer.json()).toMatchObject({ code: errorCatalogue.internal.code });
  });

  it.each(readingRoutes)(
    'given a failure retrying cannot mend (a missing table), when $name is asked, then it answers 500 CATCHALL_INTERNAL without telling its cause',
    async ({ request }) => {
      app = queryAppOver(
        poolFailingWith(sqlState('42P01', 'relation "domain_stats_secret" does not exist')),
      );
      const answer = await app.inject(request);
      expect(answer.statusCode).toBe(500);
      expect(answer.headers['retry-after']).toBeUndefined();
      expect(answer.json()).toEqual({
        statusCode: 500,
        code: errorCatalogue.internal.code,
        error: 'Internal Server Error',
        message: 'Internal error; it was logged',
      });
      expect(answer.body).not.toContain('domain_stats_secret');
    },
  );

  it('given a programmer error under the read model, then it answers 500 CATCHALL_INTERNAL, not 503', async () => {
    app = queryAppOver(
      poolFailingWith(new TypeError("Cannot read properties of undefined (reading 'secret')")),
    );
    const answer = await app.inject('/domains/example.com');
    expect(answer.statusCode).toBe(500);
    expect(answer.json()).toMatchObject({ code: errorCatalogue.internal.code });
    expect(answer.body).not.toContain('secret');
  });
});
