import { useTestProducer } from '../../test/support/producer-service';
import { createEventDecoder } from '@catchall/schemas';
import { testInfra } from '../../test/support/env';
import { createTestTopic, readAll } from '../../test/support/kafka';
import { testLogger } from '../../test/support/logger';
import { loadProducerConfig } from './config';
import { startProducerService } from './service';

const infra = testInfra();

describe('the ingest API against real Kafka and registry', () => {
  const producer = useTestProducer(3);

  it('answers 202 with the event id, normalized domain and type once Kafka has the record', async () => {
    const response = await producer.service.app.inject({
      method: 'PUT',
      url: '/events/Example.COM./delivered',
    });
    expect(response.statusCode).toBe(202);
    const body = response.json();
    expect(body).toEqual({
      eventId: expect.any(String),
      domain: 'example.com',
      type: 'delivered',
      consistencyToken: expect.stringMatching(/^events-[^:]+:\d+:\d+(,\d+:\d+)*$/) as string,
    });

    const records = await readAll(producer.topic.name);
    const decoder = createEventDecoder({ registryUrl: infra.registryUrl });
    const events = await Promise.all(records.map((r) => decoder.decode(r.message.value)));
    const stored = events.find((e) => e.eventId === body.eventId);
    expect(stored).toMatchObject({ domain: 'example.com', type: 'delivered', source: null });
    const record = records.find((r) => r.message.key?.toString() === 'example.com');
    expect(record).toBeDefined();
  });

  it('describes its routes in an OpenAPI document, and shows them on a docs page', async () => {
    const response = await producer.service.app.inject('/openapi.json');
    expect(response.statusCode).toBe(200);
    const document = response.json();
    expect(Object.keys(document.paths).sort()).toEqual([
      '/events',
      '/events/{domain}/bounced',
      '/events/{domain}/delivered',
    ]);
    const batch = document.paths['/events'].post;
    expect(batch.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ in: 'header', name: 'prefer' })]),
    );
    expect(batch.requestBody.content['application/json'].schema.items).toMatchObject({
      additionalProperties: false,
      required: ['domain', 'type'],
    });
    expect(Object.keys(batch.responses)).toEqual(expect.arrayContaining(['202']));
    const put = document.paths['/events/{domain}/delivered'].put;
    expect(put.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ in: 'path', name: 'domain' }),
        expect.objectContaining({ in: 'header', name: 'idempotency-key' }),
      ]),
    );
    const docs = await producer.service.app.inject('/docs/');
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toMatch(/text\/html/);
  });

  it('records a bounce with the client event id and time', async () => {
    const response = await producer.service.app.inject({
      method: 'PUT',
      url: '/events/b%C3%BCcher.de/bounced',
      headers: { 'idempotency-key': 'client-id-42' },
      payload: { occurredAt: '2026-01-02T03:04:05.000Z', source: 'mta-1' },
    });
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({
      eventId: 'client-id-42',
      domain: 'xn--bcher-kva.de',
      type: 'bounced',
      consistencyToken: expect.stringMatching(/^events-[^:]+:\d+:\d+(,\d+:\d+)*$/) as string,
    });
    const decoder = createEventDecoder({ registryUrl: infra.registryUrl });
    const events = await Promise.all(
      (await readAll(producer.topic.name)).map((r) => decoder.decode(r.message.value)),
    );
    expect(events.find((e) => e.eventId === 'client-id-42')).toEqual({
      eventId: 'client-id-42',
      domain: 'xn--bcher-kva.de',
      type: 'bounced',
      occurredAt: Date.parse('2026-01-02T03:04:05.000Z'),
      source: 'mta-1',
      eventIdOrigin: 'client',
    });
  });

  it("marks the ids it makes as its own, and those the client chose as the client's, in batches too", async () => {
    const put = await producer.service.app.inject({
      method: 'PUT',
      url: '/events/origin-put.example/delivered',
    });
    const batch = await producer.service.app.inject({
      method: 'POST',
      url: '/events',
      payload: [
        { domain: 'origin-batch.example', type: 'delivered', eventId: 'chosen-7' },
        { domain: 'origin-batch.example', type: 'bounced' },
      ],
    });
    expect([put.statusCode, batch.statusCode]).toEqual([202, 202]);
    const decoder = createEventDecoder({ registryUrl: infra.registryUrl });
    const events = await Promise.all(
      (await readAll(producer.topic.name)).map((r) => decoder.decode(r.message.value)),
    );
    const origins = events
      .filter((e) => e.domain.startsWith('origin-'))
      .map((e) => [e.domain, e.type, e.eventIdOrigin, e.eventId === 'chosen-7']);
    expect(origins).toEqual(
      expect.arrayContaining([
        ['origin-put.example', 'delivered', 'ingest', false],
        ['origin-batch.example', 'delivered', 'client', true],
        ['origin-batch.example', 'bounced', 'ingest', false],
      ]),
    );
    expect(origins).toHaveLength(3);
  });

  it('answers 400 with a JSON body that says what is wrong with an invalid domain', async () => {
    const response = await producer.service.app.inject({
      method: 'PUT',
      url: '/events/-bad-.com/delivered',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      statusCode: 400,
      code: 'CATCHALL_INVALID_DOMAIN',
      error: 'Bad Request',
      message: expect.stringMatching(/hyphen/),
    });
  });

  it('answers 404 for another event type or path', async () => {
    for (const url of ['/events/example.com/opened', '/events/example.com', '/nothing']) {
      const response = await producer.service.app.inject({ method: 'PUT', url });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'CATCHALL_ROUTE_NOT_FOUND' });
    }
  });

  it('answers 400 naming an unknown field of the body, and where a PUT takes an eventId', async () => {
    const cases = [
      {
        payload: { occurredAt: '2026-01-02T03:04:05Z', color: 'red' },
        message: /^Invalid request: "body\/color": not a field this route takes$/,
      },
      { payload: { eventId: 'retry-1' }, message: /"body\/eventId".*Idempotency-Key header/ },
    ];
    for (const { payload, message } of cases) {
      const response = await producer.service.app.inject({
        method: 'PUT',
        url: '/events/example.com/delivered',
        payload,
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'CATCHALL_INVALID_REQUEST', message });
    }
  });

  it('is alive and ready, and exposes its metrics', async () => {
    expect((await producer.service.app.inject('/healthz')).statusCode).toBe(200);
    const ready = await producer.service.app.inject('/readyz');
    expect(ready.json()).toEqual({
      status: 'ready',
      checks: { schemaRegistry: { ok: true }, kafka: { ok: true } },
    });
    const metrics = await producer.service.app.inject('/metrics');
    expect(metrics.body).toMatch(
      /catchall_events_accepted_total\{type="delivered"(,service="producer-api")?\} [1-9]/,
    );
  });
});

describe('the ingest API with the schema registry down at start', () => {
  it('starts, reports not ready with the reason, and answers 503 with Retry-After', async () => {
    const topic = await createTestTopic(1);
    const config = loadProducerConfig({
      KAFKA_BROKERS: infra.brokers,
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:9/apis/ccompat/v7',
      EVENTS_TOPIC: topic.name,
    });
    const service = await startProducerService(config, testLogger('producer-api'));
    try {
      const ready = await service.app.inject('/readyz');
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks.schemaRegistry).toEqual({ ok: false, error: expect.any(String) });
      const put = await service.app.inject({ method: 'PUT', url: '/events/example.com/delivered' });
      expect(put.statusCode).toBe(503);
      expect(put.headers['retry-after']).toBe('1');
      expect(put.json()).toMatchObject({ code: 'CATCHALL_UNAVAILABLE' });
      expect(await readAll(topic.name)).toEqual([]);
    } finally {
      await service.lifecycle.shutdown('test done');
      await topic.delete();
    }
  });
});
