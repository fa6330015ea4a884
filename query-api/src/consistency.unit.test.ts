import { errorCatalogue } from '@catchall/core';
import { domainRow, inMemoryReadModel, queryApp } from '../../test/support/query-ports';

const ROW = domainRow('seen.example', 'unknown', { delivered: 1 });

/**
 * The query API over an in-memory read model whose live positions of `events` the test moves
 * (`positions`), and which counts the reads of each kind.
 */
function buildTestApp(consistencyWaitMs = 300) {
  const positions = new Map<number, number>();
  const { readModel, reads } = inMemoryReadModel([ROW], { topic: 'events', positions });
  const app = queryApp(readModel, { topic: 'events', consistencyWaitMs, consistencyPollMs: 5 });
  return { app, positions, reads };
}

const get = (token?: string) => ({
  method: 'GET' as const,
  url: '/domains/seen.example',
  headers: token === undefined ? {} : { 'consistency-token': token },
});
const lookup = (token: string) => ({
  method: 'POST' as const,
  url: '/domains/lookup',
  headers: { 'consistency-token': token },
  payload: { domains: ['seen.example'] },
});

describe('reads with a Consistency-Token', () => {
  it('declares the Consistency-Token request header of both routes in the OpenAPI document', async () => {
    const { app } = buildTestApp();
    await app.ready();
    const paths = (
      app.swagger() as unknown as {
        paths: Record<string, Record<string, { parameters: { in: string; name: string }[] }>>;
      }
    ).paths;
    for (const operation of [paths['/domains/{domain}']!.get!, paths['/domains/lookup']!.post!]) {
      expect(operation.parameters).toContainEqual(
        expect.objectContaining({ in: 'header', name: 'consistency-token', required: false }),
      );
    }
    await app.close();
  });

  it('answers an invalid domain 400 at once, token or not: no token makes it valid', async () => {
    const { app, reads } = buildTestApp();
    const response = await app.inject({
      method: 'GET',
      url: '/domains/-bad-.example',
      headers: { 'consistency-token': 'events:0:99999' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'CATCHALL_INVALID_DOMAIN' });
    expect(reads.positions).toBe(0);
    await app.close();
  });

  it('without the header, answers at once and reads no positions', async () => {
    const { app, reads } = buildTestApp();
    const response = await app.inject(get());
    expect(response.statusCode).toBe(200);
    expect(response.headers.vary).toBe('Consistency-Token');
    expect(reads.positions).toBe(0);
    await app.close();
  });

  it('answers GET and lookup once the positions pass every offset of the token', async () => {
    const { app, positions } = buildTestApp(5000);
    const answers = [
      app.inject(get('events:0:9,2:4')),
      app.inject(lookup('events:0:9,2:4')),
      app.inject(get('events:0:3')),
    ];
    positions.set(0, 10);
    const early = await answers[2]!;
    expect(early.statusCode).toBe(200);
    positions.set(2, 5);
    const [first, second] = await Promise.all(answers.slice(0, 2));
    expect(first!.statusCode).toBe(200);
    expect(first!.json()).toMatchObject({ domain: 'seen.example', delivered: 1 });
    expect(second!.statusCode).toBe(200);
    expect(second!.json()).toMatchObject({ results: [{ found: true, delivered: 1 }] });
    await app.close();
  });

  it('given the positions never reach the token, answers 503 CATCHALL_CONSISTENCY_TIMEOUT with Retry-After after CONSISTENCY_WAIT_MS, and reads no row', async () => {
    const { app, positions, reads } = buildTestApp(300);
    positions.set(0, 5);
    const started = Date.now();
    const response = await app.inject(get('events:0:5'));
    const waited = Date.now() - started;
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBeDefined();
    expect(response.json()).toMatchObject({
      statusCode: 503,
      code: errorCatalogue.consistencyTimeout.code,
    });
    expect(response.json().message).toContain('300 ms');
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(2000);
    expect(reads.rows).toBe(0);
    const fromLookup = await app.inject(lookup('events:0:5'));
    expect(fromLookup.statusCode).toBe(503);
    await app.close();
  });

  it.each([
    ['malformed', 'events:0'],
    ['empty', ''],
    ['a negative offset', 'events:0:-1'],
    ['of another topic', 'other-events:0:1'],
  ])(
    'refuses a token %s with 400 CATCHALL_INVALID_CONSISTENCY_TOKEN before reading',
    async (_, token) => {
      const { app, reads } = buildTestApp();
      for (const request of [get(token), lookup(token)]) {
        const response = await app.inject(request);
        expect(response.statusCode).toBe(400);
        expect(response.json()).toMatchObject({
          code: errorCatalogue.invalidConsistencyToken.code,
        });
      }
      expect(reads).toEqual({ rows: 0, positions: 0 });
      await app.close();
    },
  );

  it('when the server closes, answers the waiting reads 503 at once instead of holding the shutdown', async () => {
    const { app } = buildTestApp(60_000);
    const waiting = app.inject(get('events:0:1'));
    await new Promise((resolve) => setTimeout(resolve, 30));
    const started = Date.now();
    await app.close();
    const response = await waiting;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ code: errorCatalogue.unavailable.code });
  });
});
