import { connect } from 'node:net';
import { gzipSync, deflateSync, brotliCompressSync } from 'node:zlib';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { normalizeDomain } from '../domain/normalize-domain';
import { createServiceApp } from './http';
import { DomainField } from './route-fields';
import { waitFor } from '../../../test/support/wait';

/** A service shell with routes shaped like the real ones: a domain path, a body, a query. */
function buildTestApp(
  requestTimeoutMs?: number,
  logger = pino({ level: 'silent' }),
): FastifyInstance {
  const app = createServiceApp({
    logger,
    metrics: new Registry(),
    readiness: {},
    openapi: { title: 'test', description: 'test', version: '0' },
    requestTimeoutMs,
  });
  // Routes in a plugin, as the services add theirs: after the OpenAPI plugin has loaded.
  void app.register(async (api) => addTestRoutes(api));
  return app;
}

function addTestRoutes(app: FastifyInstance): void {
  app.put<{ Params: { domain: string }; Body: unknown }>(
    '/things/:domain',
    {
      bodyLimit: 1024,
      schema: {
        'x-optional-body': true,
        params: Type.Object({ domain: DomainField }),
        body: Type.Union([
          Type.Null(),
          Type.Object(
            {
              at: Type.Optional(Type.String({ format: 'date-time' })),
              n: Type.Optional(Type.String()),
            },
            { additionalProperties: false },
          ),
        ]),
      },
    },
    async (request) => {
      const result = normalizeDomain(request.params.domain);
      return { domain: result.ok ? result.domain : null, body: request.body ?? null };
    },
  );
  app.get<{ Querystring: { limit?: number } }>(
    '/things',
    {
      schema: {
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => ({ limit: request.query.limit ?? null }),
  );
}

/** Sends raw bytes on a fresh connection and returns the whole answer as text. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.end(request);
  });
}

/**
 * Sends the start of a request and leaves the connection open, as a slow client does;
 * resolves with the answer and the milliseconds from the first byte to the close.
 */
function slowExchange(port: number, start: string): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const t0 = Date.now();
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () =>
      resolve({ answer: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - t0 }),
    );
    socket.write(start);
  });
}

function expectCatalogueBody(body: unknown, statusCode: number, code: string): void {
  expect(body).toEqual({
    statusCode,
    code,
    error: expect.any(String),
    message: expect.any(String),
  });
}

describe('the service shell: every answer in the catalogue', () => {
  const app = buildTestApp();
  afterAll(() => app.close());

  it('answers 405 with Allow for a known path and another method, OPTIONS included', async () => {
    for (const method of ['DELETE', 'OPTIONS', 'PATCH', 'POST'] as const) {
      const response = await app.inject({ method, url: '/things/example.com' });
      expect(response.statusCode).toBe(405);
      expect(response.headers.allow).toBe('PUT');
      expectCatalogueBody(response.json(), 405, 'CATCHALL_METHOD_NOT_ALLOWED');
    }
    const listing = await app.inject({ method: 'DELETE', url: '/things?limit=1' });
    expect(listing.statusCode).toBe(405);
    expect(listing.headers.allow).toBe('GET, HEAD');
  });

  it('answers 404 with a code for a path no route has', async () => {
    const response = await app.inject({ method: 'GET', url: '/nothing/here' });
    expect(response.statusCode).toBe(404);
    expectCatalogueBody(response.json(), 404, 'CATCHALL_ROUTE_NOT_FOUND');
  });

  it('takes a 194-character and a 253-character name in the path, percent-encoded Unicode too', async () => {
    const name194 = `${'a'.repeat(60)}.`.repeat(3) + 'example.com';
    expect(name194).toHaveLength(194);
    const plain = await app.inject({ method: 'PUT', url: `/things/${name194}` });
    expect(plain.statusCode).toBe(200);
    expect(plain.json().domain).toBe(name194);
    // 4 labels of 20 three-byte characters: 240 characters of percent-encoding each.
    const label = '\u4e2d'.repeat(15);
    const unicode = [label, label, label, label, label, label, label, label].join('.') + '.de.';
    const encoded = encodeURIComponent(unicode);
    expect(encoded.length).toBeGreaterThan(1000);
    const response = await app.inject({ method: 'PUT', url: `/things/${encoded}` });
    expect(response.statusCode).toBe(200);
    const expected = normalizeDomain(unicode);
    expect(expected.ok).toBe(true);
    expect(response.json().domain).toBe(expected.ok ? expected.domain : '');
  });

  it('answers 414 with a code when a path segment passes the encoded limit', async () => {
    const response = await app.inject({ method: 'PUT', url: `/things/${'a'.repeat(9300)}` });
    expect(response.statusCode).toBe(414);
    const body = response.json();
    expectCatalogueBody(body, 414, 'CATCHALL_URI_TOO_LONG');
    expect(body.error).toBe('URI Too Long');
    expect(body.message).toMatch(/9216/);
  });

  it('answers 400 with a code for bad percent-encoding in the path', async () => {
    const response = await app.inject({ method: 'PUT', url: '/things/%E0%A4%A' });
    expect(response.statusCode).toBe(400);
    expectCatalogueBody(response.json(), 400, 'CATCHALL_BAD_URL');
  });

  it('takes no body, with or without Content-Type: application/json', async () => {
    for (const headers of [{}, { 'content-type': 'application/json' }]) {
      const response = await app.inject({ method: 'PUT', url: '/things/example.com', headers });
      expect(response.statusCode).toBe(200);
      expect(response.json().body).toBeNull();
    }
  });

  it('takes a leading byte-order mark, refuses invalid UTF-8 instead of replacing it', async () => {
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"n":"x"}')]);
    const ok = await app.inject({
      method: 'PUT',
      url: '/things/example.com',
      headers: { 'content-type': 'application/json' },
      payload: withBom,
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().body).toEqual({ n: 'x' });
    const bad = await app.inject({
      method: 'PUT',
      url: '/things/example.com',
      headers: { 'content-type': 'application/json' },
      payload: Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
    });
    expect(bad.statusCode).toBe(400);
    expectCatalogueBody(bad.json(), 400, 'CATCHALL_INVALID_BODY');
    expect(bad.json().message).toMatch(/UTF-8/);
  });

  it('refuses __proto__ keys and trailing garbage as invalid JSON', async () => {
    for (const payload of ['{"__proto__":{"x":1}}', '{"n":"x"} x']) {
      const response = await app.inject({
        method: 'PUT',
        url: '/things/example.com',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect(response.statusCode).toBe(400);
      expectCatalogueBody(response.json(), 400, 'CATCHALL_INVALID_BODY');
    }
  });

  it('decompresses gzip, deflate and br bodies; 415 for another coding, 400 for a broken one', async () => {
    const json = Buffer.from('{"n":"compressed"}');
    for (const [coding, body] of [
      ['gzip', gzipSync(json)],
      ['deflate', deflateSync(json)],
      ['br', brotliCompressSync(json)],
      ['GZIP', gzipSync(json)],
    ] as const) {
      const response = await app.inject({
        method: 'PUT',
        url: '/things/example.com',
        headers: { 'content-type': 'application/json', 'content-encoding': coding },
        payload: body,
      });
      expect({ coding, status: response.statusCode }).toEqual({ coding, status: 200 });
      expect(response.json().body).toEqual({ n: 'compressed' });
    }
    const unknown = await app.inject({
      method: 'PUT',
      url: '/things/example.com',
      headers: { 'content-type': 'application/json', 'content-encoding': 'zstd' },
      payload: json,
    });
    expect(unknown.statusCode).toBe(415);
    expectCatalogueBody(unknown.json(), 415, 'CATCHALL_UNSUPPORTED_ENCODING');
    const broken = await app.inject({
      method: 'PUT',
      url: '/things/example.com',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: json,
    });
    expect(broken.statusCode).toBe(400);
    expectCatalogueBody(broken.json(), 400, 'CATCHALL_INVALID_BODY');
  });

  it('answers a request that names a content coding but has no body as one without a body, and a body it does not read never fails the process', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    // Its own app, whose debug log shows when a body nobody reads has failed to decode.
    const logged: string[] = [];
    const app = buildTestApp(
      undefined,
      pino({ level: 'debug' }, { write: (line: string) => void logged.push(line) }),
    );
    try {
      for (const coding of ['gzip', 'x-gzip', 'deflate', 'br']) {
        const empty = await app.inject({
          method: 'PUT',
          url: '/things/example.com',
          headers: { 'content-encoding': coding },
        });
        expect({ coding, status: empty.statusCode }).toEqual({ coding, status: 200 });
        const zero = await app.inject({
          method: 'PUT',
          url: '/things/example.com',
          headers: { 'content-type': 'application/json', 'content-encoding': coding },
          payload: '',
        });
        expect({ coding, status: zero.statusCode }).toEqual({ coding, status: 200 });
      }
      // Bodies fastify does not read: a GET's, and one of a media type the route refuses.
      const get = await app.inject({
        method: 'GET',
        url: '/things?limit=1',
        headers: { 'content-encoding': 'gzip' },
        payload: 'not gzip at all',
      });
      expect(get.statusCode).toBe(200);
      const refused = await app.inject({
        method: 'PUT',
        url: '/things/example.com',
        headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip' },
        payload: 'not gzip at all',
      });
      expect(refused.statusCode).toBe(415);
      // Both unread bodies are not gzip: their decoders fail after the answers, into the log.
      await waitFor(
        'both unread bodies to fail decoding',
        () => logged.filter((line) => line.includes('compressed body not decoded')).length >= 2,
      );
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await app.close();
    }
  });

  it('answers a transfer coding other than chunked 400 with its code, instead of reading the body raw', async () => {
    const json = JSON.stringify({ n: 'x' });
    for (const coding of ['gzip, chunked', 'deflate,chunked', 'x-custom, chunked']) {
      const response = await app.inject({
        method: 'PUT',
        url: '/things/example.com',
        headers: { 'content-type': 'application/json', 'transfer-encoding': coding },
        payload: gzipSync(json),
      });
      expect({ coding, status: response.statusCode }).toEqual({ coding, status: 400 });
      expectCatalogueBody(response.json(), 400, 'CATCHALL_UNSUPPORTED_TRANSFER_CODING');
    }
    const chunked = await app.inject({
      method: 'PUT',
      url: '/things/example.com',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      payload: json,
    });
    expect(chunked.statusCode).toBe(200);
  });

  it('applies the body limit to the decompressed bytes (413 with a code)', async () => {
    const bomb = gzipSync(Buffer.from(`{"n":"${'a'.repeat(100_000)}"}`));
    expect(bomb.length).toBeLessThan(1024);
    const response = await app.inject({
      method: 'PUT',
      url: '/things/example.com',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: bomb,
    });
    expect(response.statusCode).toBe(413);
    expectCatalogueBody(response.json(), 413, 'CATCHALL_BODY_TOO_LARGE');
  });

  it('answers 415 with a code for a media type the route does not take', async () => {
    const response = await app.inject({
      method: 'PUT',
      url: '/things/example.com',
      headers: { 'content-type': 'text/plain' },
      payload: 'x',
    });
    expect(response.statusCode).toBe(415);
    expectCatalogueBody(response.json(), 415, 'CATCHALL_UNSUPPORTED_MEDIA_TYPE');
  });

  it('coerces no types: a number or an array is not a string, Infinity is not an integer', async () => {
    for (const payload of ['{"n":1}', '{"n":["a"]}', '{"n":1e400}', '{"n":null}']) {
      const response = await app.inject({
        method: 'PUT',
        url: '/things/example.com',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect({ payload, status: response.statusCode }).toEqual({ payload, status: 400 });
      expectCatalogueBody(response.json(), 400, 'CATCHALL_INVALID_REQUEST');
    }
    for (const limit of ['Infinity', '1e1', '0x10', '5.0', '%205', '-0', '99999999999999999999']) {
      const response = await app.inject({ method: 'GET', url: `/things?limit=${limit}` });
      expect({ limit, status: response.statusCode }).toEqual({ limit, status: 400 });
      expectCatalogueBody(response.json(), 400, 'CATCHALL_INVALID_REQUEST');
    }
    const ok = await app.inject({ method: 'GET', url: '/things?limit=42' });
    expect(ok.json()).toEqual({ limit: 42 });
    const twice = await app.inject({ method: 'GET', url: '/things?limit=4&limit=5' });
    expect(twice.statusCode).toBe(400);
  });

  it('takes exactly the RFC 3339 times the event time parser reads', async () => {
    const put = (at: string) =>
      app.inject({
        method: 'PUT',
        url: '/things/example.com',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ at }),
      });
    expect((await put('2016-12-31T23:59:60Z')).statusCode).toBe(200);
    expect((await put('2016-12-31t23:59:59z')).statusCode).toBe(200);
    expect((await put('2016-12-31 23:59:59Z')).statusCode).toBe(400);
    expect((await put('2023-02-29T00:00:00Z')).statusCode).toBe(400);
  });

  it('documents an optional body as not required', async () => {
    const document = (await app.inject('/openapi.json')).json();
    const operation = document.paths['/things/{domain}'].put;
    expect(operation.requestBody.required).toBe(false);
    expect(operation['x-optional-body']).toBeUndefined();
  });
});

describe('the service shell: answers Node gives before a route runs', () => {
  const timeoutMs = 1000;
  const app = buildTestApp(timeoutMs);
  let port = 0;
  beforeAll(async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(() => app.close());

  function parse(answer: string): { status: number; headers: string[]; body: unknown } {
    const [head, body] = answer.split('\r\n\r\n');
    const [statusLine, ...headers] = head!.split('\r\n');
    return {
      status: Number(statusLine!.split(' ')[1]),
      headers: headers.map((h) => h.toLowerCase()),
      body: JSON.parse(body!),
    };
  }

  it('answers 400 with a code for an HTTP/1.1 request without Host, with two, or with a bad one (RFC 9112 section 3.2)', async () => {
    for (const hosts of ['', 'Host: a\r\nHost: b\r\n', 'Host: a b\r\n', 'Host: a:b\r\n']) {
      const answer = parse(await rawExchange(port, `GET /things HTTP/1.1\r\n${hosts}\r\n`));
      expect({ hosts, status: answer.status }).toEqual({ hosts, status: 400 });
      expectCatalogueBody(answer.body, 400, 'CATCHALL_BAD_REQUEST');
      expect(answer.headers).toContain('connection: close');
    }
    const http10 = parse(await rawExchange(port, 'GET /things HTTP/1.0\r\n\r\n'));
    expect(http10.status).toBe(200);
    expect(http10.body).toEqual({ limit: null });
    for (const host of ['example.com', 'example.com:8080', '127.0.0.1:1', '[::1]:80', '']) {
      const answer = parse(
        await rawExchange(port, `GET /things HTTP/1.1\r\nHost: ${host}\r\n\r\n`),
      );
      expect({ host, status: answer.status }).toEqual({ host, status: 200 });
    }
  });

  it('answers a transfer coding other than chunked 400 on a real connection, as Node frames it', async () => {
    const body = '{"n":"x"}';
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const head = (coding: string) =>
      'PUT /things/example.com HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n' +
      `Transfer-Encoding: ${coding}\r\nConnection: close\r\n\r\n`;
    const refused = parse(await rawExchange(port, head('gzip, chunked') + chunked));
    expect(refused.status).toBe(400);
    expectCatalogueBody(refused.body, 400, 'CATCHALL_UNSUPPORTED_TRANSFER_CODING');
    const accepted = parse(await rawExchange(port, head('chunked') + chunked));
    expect(accepted.status).toBe(200);
  });

  it('answers CONNECT with 405, Allow and a code instead of closing the connection', async () => {
    const onPath = parse(
      await rawExchange(port, 'CONNECT /things/example.com HTTP/1.1\r\nHost: x\r\n\r\n'),
    );
    expect(onPath.status).toBe(405);
    expect(onPath.headers).toContain('allow: put');
    expectCatalogueBody(onPath.body, 405, 'CATCHALL_METHOD_NOT_ALLOWED');
    const tunnel = parse(
      await rawExchange(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'),
    );
    expect(tunnel.status).toBe(405);
    // An authority names no resource of the service: an empty Allow (RFC 9110 section 10.2.1).
    expect(tunnel.headers).toContain('allow: ');
    expectCatalogueBody(tunnel.body, 405, 'CATCHALL_METHOD_NOT_ALLOWED');
  });

  it.each([
    ['headers', 'GET /things HTTP/1.1\r\nHost: x\r\n'],
    [
      'body',
      'PUT /things/example.com HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{',
    ],
  ])(
    'answers 408 with a code when the %s do not arrive within the request timeout, not 30 s later',
    async (_part, start) => {
      const { answer, ms } = await slowExchange(port, start);
      const parsed = parse(answer);
      expect(parsed.status).toBe(408);
      expectCatalogueBody(parsed.body, 408, 'CATCHALL_REQUEST_TIMEOUT');
      expect(ms).toBeGreaterThanOrEqual(timeoutMs - 50);
      // Checked every 100 ms for a 1 s timeout; the rest is slack for a loaded machine.
      expect(ms).toBeLessThan(timeoutMs + 1500);
    },
  );

  it('answers 431 with a code for headers past the limit', async () => {
    const answer = parse(
      await rawExchange(
        port,
        `GET /things HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      ),
    );
    expect(answer.status).toBe(431);
    expectCatalogueBody(answer.body, 431, 'CATCHALL_HEADERS_TOO_LARGE');
  });

  it('answers 400 with a code for a malformed request line', async () => {
    const answer = parse(await rawExchange(port, 'GET /things HTTP/9.x\r\n\r\n'));
    expect(answer.status).toBe(400);
    expectCatalogueBody(answer.body, 400, 'CATCHALL_BAD_REQUEST');
  });

  it('answers 417 with a code for an Expect header other than 100-continue', async () => {
    const answer = parse(
      await rawExchange(port, 'GET /things HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\n\r\n'),
    );
    expect(answer.status).toBe(417);
    expectCatalogueBody(answer.body, 417, 'CATCHALL_EXPECTATION_FAILED');
  });
});
