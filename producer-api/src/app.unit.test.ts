import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { NotReady } from '@catchall/core';
import { Registry } from 'prom-client';
import { buildApp } from './app';
import { createProducerMetrics } from './metrics';
import type { Publisher } from './publisher';
import type { SchemaRegistration } from './schema-registration';

/**
 * The ingest API over ports that fail the test if reached: every request here is refused
 * before anything is encoded or sent to Kafka.
 */
function buildRefusingApp(
  tokens = '',
  rateLimitPerMinute = 0,
  kafkaCheck: { check(): Promise<void> } = { check: async () => undefined },
): { app: FastifyInstance; published: () => number } {
  let published = 0;
  const publisher: Publisher = {
    publish: async () => {
      published += 1;
      throw new Error('a refused request reached Kafka');
    },
    drain: async () => undefined,
    failing: () => false,
  };
  const schema: SchemaRegistration = {
    encoder: () => {
      throw new Error('a refused request was encoded');
    },
    start: async () => undefined,
    stop: () => undefined,
    check: async () => undefined,
  };
  const registry = new Registry();
  const app = buildApp({
    logger: pino({ level: 'silent' }),
    registry,
    metrics: createProducerMetrics(registry),
    publisher,
    schema,
    kafkaCheck,
    tokens,
    rateLimitPerMinute,
    batchMaxEvents: 100,
    batchMaxBytes: 64 * 1024,
    requestTimeoutMs: 30000,
    topic: 'domain-events',
  });
  return { app, published: () => published };
}

describe('the ingest API refuses bad events with the code the error table gives', () => {
  const { app, published } = buildRefusingApp();
  afterAll(() => app.close());

  it('answers 400 CATCHALL_INVALID_EVENT_TIME naming occurredAt and the value, for PUT', async () => {
    for (const occurredAt of ['2016-02-30T00:00:00Z', '2016-12-31 23:59:59Z', 'yesterday', '']) {
      const response = await app.inject({
        method: 'PUT',
        url: '/events/time.example/delivered',
        payload: { occurredAt },
      });
      expect({ occurredAt, status: response.statusCode }).toEqual({ occurredAt, status: 400 });
      expect(response.json()).toEqual({
        statusCode: 400,
        code: 'CATCHALL_INVALID_EVENT_TIME',
        error: 'Bad Request',
        message: `Invalid occurredAt "${occurredAt}": send an RFC 3339 date-time such as 2024-05-01T12:00:00Z`,
      });
    }
    expect(published()).toBe(0);
  });

  it('answers 400 CATCHALL_INVALID_REQUEST for an occurredAt of the wrong type or beside another fault', async () => {
    for (const payload of ['{"occurredAt":0}', '{"occurredAt":"yesterday","extra":1}']) {
      const response = await app.inject({
        method: 'PUT',
        url: '/events/time.example/bounced',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect({ payload, status: response.statusCode }).toEqual({ payload, status: 400 });
      expect(response.json().code).toBe('CATCHALL_INVALID_REQUEST');
    }
    expect(published()).toBe(0);
  });

  it('lists each refused batch item by index with the code of what is wrong, JSON or NDJSON', async () => {
    const items = [
      { domain: 'ok.example', type: 'delivered' },
      { domain: 'ok.example', type: 'delivered', occurredAt: '2016-02-30T00:00:00Z' },
      { domain: 'ok.example', type: 'delivered', extra: 1 },
      { domain: '1.2.3.4', type: 'bounced' },
      { domain: 'ok.example', type: 'opened', occurredAt: 'yesterday' },
    ];
    const expected = [
      {
        index: 1,
        code: 'CATCHALL_INVALID_EVENT_TIME',
        message: expect.stringMatching(/^Invalid occurredAt "2016-02-30T00:00:00Z"/),
      },
      {
        index: 2,
        code: 'CATCHALL_INVALID_REQUEST',
        message: expect.stringMatching(/extra|additional/),
      },
      { index: 3, code: 'CATCHALL_INVALID_DOMAIN', message: expect.stringMatching(/1\.2\.3\.4/) },
      { index: 4, code: 'CATCHALL_INVALID_REQUEST', message: expect.stringMatching(/type/) },
    ];
    const json = await app.inject({ method: 'POST', url: '/events', payload: items });
    expect(json.statusCode).toBe(400);
    expect(json.json()).toMatchObject({ code: 'CATCHALL_INVALID_BATCH' });
    expect(json.json().errors).toEqual(expected);
    const ndjson = await app.inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/x-ndjson' },
      payload: [...items.map((item) => JSON.stringify(item)), '{not json}'].join('\n'),
    });
    expect(ndjson.statusCode).toBe(400);
    expect(ndjson.json().errors).toEqual([
      ...expected,
      { index: 5, code: 'CATCHALL_INVALID_BODY', message: expect.stringMatching(/not JSON/) },
    ]);
    expect(published()).toBe(0);
  });

  it('answers a PUT in NDJSON 415, as any media type the route does not take', async () => {
    const response = await app.inject({
      method: 'PUT',
      url: '/events/example.com/delivered',
      headers: { 'content-type': 'application/x-ndjson' },
      payload: '{}',
    });
    expect(response.statusCode).toBe(415);
    expect(response.json()).toMatchObject({ code: 'CATCHALL_UNSUPPORTED_MEDIA_TYPE' });
    expect(published()).toBe(0);
  });
});

describe('the ingest API document describes the service exactly', () => {
  const { app, published } = buildRefusingApp();
  afterAll(() => app.close());

  it('documents both media types POST /events takes, with the real limit of events', async () => {
    const document = (await app.inject('/openapi.json')).json();
    const body = document.paths['/events'].post.requestBody;
    expect(Object.keys(body.content).sort()).toEqual(['application/json', 'application/x-ndjson']);
    for (const media of ['application/json', 'application/x-ndjson']) {
      expect(body.content[media].schema).toMatchObject({ type: 'array', maxItems: 100 });
    }
    expect(body.required).toBe(true);
  });

  it('takes a batch in each documented media type', async () => {
    // Refused for its one bad event, so nothing is sent: parsed and checked in both forms.
    const events = [{ domain: 'x', type: 'opened' }];
    for (const [type, payload] of [
      ['application/json', JSON.stringify(events)],
      ['application/x-ndjson', events.map((e) => JSON.stringify(e)).join('\n')],
    ]) {
      const response = await app.inject({
        method: 'POST',
        url: '/events',
        headers: { 'content-type': type! },
        payload,
      });
      expect({ type, code: response.json().code }).toEqual({
        type,
        code: 'CATCHALL_INVALID_BATCH',
      });
    }
    expect(published()).toBe(0);
  });
});

describe('ingest API tokens (API_TOKENS)', () => {
  const { app, published } = buildRefusingApp('ingest-token');
  afterAll(() => app.close());

  it('answers a request without a token 401 CATCHALL_UNAUTHORIZED before anything is sent', async () => {
    const response = await app.inject({ method: 'PUT', url: '/events/example.com/delivered' });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ code: 'CATCHALL_UNAUTHORIZED', error: 'Unauthorized' });
    expect(response.headers['www-authenticate']).toBe('Bearer realm="catch-all"');
    expect(published()).toBe(0);
  });

  it('answers a wrong token 401 with error="invalid_token" in its challenge (RFC 6750 section 3.1)', async () => {
    const response = await app.inject({
      method: 'PUT',
      url: '/events/example.com/delivered',
      headers: { authorization: 'Bearer read-token' },
    });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ code: 'CATCHALL_UNAUTHORIZED' });
    expect(response.headers['www-authenticate']).toBe(
      'Bearer realm="catch-all", error="invalid_token"',
    );
    expect(published()).toBe(0);
  });

  it('takes the scheme name in any case (RFC 9110 section 11.1)', async () => {
    const put = (authorization: string) =>
      app.inject({
        method: 'PUT',
        url: '/events/example.com/delivered',
        headers: { authorization },
      });
    // Past the token check, the refusing ports answer: 500, not 401.
    expect((await put('Bearer ingest-token')).statusCode).toBe(500);
    for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
      const response = await put(`${scheme} ingest-token`);
      expect({ scheme, status: response.statusCode }).toEqual({ scheme, status: 500 });
    }
  });

  it('documents the bearer scheme and the 401 of the event routes', async () => {
    const document = (await app.inject('/openapi.json')).json();
    expect(document.components.securitySchemes.bearerToken.scheme).toBe('bearer');
    for (const operation of [
      document.paths['/events'].post,
      document.paths['/events/{domain}/delivered'].put,
    ]) {
      expect(operation.security).toEqual([{ bearerToken: [] }]);
      expect(Object.keys(operation.responses)).toContain('401');
    }
  });
});

describe('ingest API rate limits (RATE_LIMIT_PER_MINUTE)', () => {
  const { app } = buildRefusingApp('ingest-token', 2);
  afterAll(() => app.close());

  it("counts a client's requests by its token, however the scheme and spaces are written", async () => {
    const statuses = [];
    for (const authorization of [
      'Bearer ingest-token',
      'bearer ingest-token',
      'BEARER  ingest-token',
    ]) {
      const response = await app.inject({
        method: 'PUT',
        url: '/events/example.com/delivered',
        headers: { authorization },
      });
      statuses.push(response.statusCode);
    }
    // Past the limit of 2 the third is refused before the (refusing) ports answer 500.
    expect(statuses).toEqual([500, 500, 429]);
  });
});

describe('catchall_events_rejected_total', () => {
  const { app } = buildRefusingApp('secret-token');
  afterAll(() => app.close());

  it('counts each refused request by the code of its answer, and not health or metrics', async () => {
    const auth = { authorization: 'Bearer secret-token' };
    await app.inject({ method: 'PUT', url: '/events/not..valid/delivered', headers: auth });
    await app.inject({ method: 'PUT', url: '/events/not..valid/delivered', headers: auth });
    await app.inject({ method: 'POST', url: '/events', headers: auth, payload: [{}] });
    await app.inject({ method: 'PUT', url: '/events/example.com/delivered' });
    await app.inject('/readyz');
    const metrics = (await app.inject('/metrics')).body;
    // Every known code is exported from the start at 0; these moved.
    const rejected = metrics
      .split('\n')
      .filter((line) => line.startsWith('catchall_events_rejected_total{') && !line.endsWith(' 0'));
    expect(rejected.sort()).toEqual([
      'catchall_events_rejected_total{reason="CATCHALL_INVALID_BATCH"} 1',
      'catchall_events_rejected_total{reason="CATCHALL_INVALID_DOMAIN"} 2',
      'catchall_events_rejected_total{reason="CATCHALL_UNAUTHORIZED"} 1',
    ]);
  });
});

describe('catchall_events_rejected_total from the start', () => {
  const { app } = buildRefusingApp('secret-token');
  afterAll(() => app.close());

  /** The refusal series of the metrics text, by reason, with their values. */
  const refusals = async () =>
    new Map(
      [
        ...(await app.inject('/metrics')).body.matchAll(
          /^catchall_events_rejected_total\{reason="([^"]+)"\} (\d+)$/gm,
        ),
      ].map((m) => [m[1]!, Number(m[2])]),
    );

  it('holds at 0, before any refusal, the code of every refusal the ingest routes answer', async () => {
    const before = await refusals();
    const auth = { authorization: 'Bearer secret-token' };
    const put = '/events/example.com/delivered';
    const json = { ...auth, 'content-type': 'application/json' };
    const answered = new Set<string>();
    for (const request of [
      { method: 'PUT', url: '/events/not..valid/delivered', headers: auth },
      { method: 'POST', url: '/events', headers: auth, payload: [{}] },
      { method: 'PUT', url: put },
      {
        method: 'PUT',
        url: put,
        headers: { ...json, 'transfer-encoding': 'gzip, chunked' },
        payload: '{}',
      },
      { method: 'PUT', url: put, headers: { ...auth, host: 'not a host' } },
      { method: 'PUT', url: put, headers: { ...auth, 'content-type': 'text/plain' }, payload: 'x' },
      {
        method: 'PUT',
        url: put,
        headers: { ...json, 'content-encoding': 'compress' },
        payload: '{}',
      },
      { method: 'PUT', url: put, headers: json, payload: '{not JSON' },
      { method: 'PUT', url: put, headers: json, payload: { unknown: 1 } },
      { method: 'PUT', url: put, headers: auth },
    ] as const) {
      const answer = await app.inject(request);
      answered.add(answer.json<{ code: string }>().code);
    }
    const after = await refusals();
    const counted = [...after].filter(([, n]) => n > 0).map(([reason]) => reason);
    expect(counted.sort()).toEqual([...answered].sort());
    for (const reason of counted) expect([reason, before.get(reason)]).toEqual([reason, 0]);
    // The refusals the series at 0 once left out were among them.
    expect(counted).toEqual(
      expect.arrayContaining(['CATCHALL_UNSUPPORTED_TRANSFER_CODING', 'CATCHALL_BAD_REQUEST']),
    );
  });
});

describe('the ingest API readiness', () => {
  it('given no produce request failed, when the background Kafka check fails, then kafka is not ready with its reason', async () => {
    const { app } = buildRefusingApp('', 0, {
      check: async () => {
        throw new NotReady('Kafka: no answer within 3000 ms');
      },
    });
    try {
      const ready = await app.inject('/readyz');
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toEqual({
        status: 'not ready',
        checks: {
          schemaRegistry: { ok: true },
          kafka: { ok: false, error: 'Kafka: no answer within 3000 ms' },
        },
      });
      expect((await app.inject('/metrics')).body).toMatch(
        /^catchall_readiness\{check="kafka"\} 0$/m,
      );
    } finally {
      await app.close();
    }
  });
});
