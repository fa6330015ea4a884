import { createEventDecoder } from '@catchall/schemas';
import { testInfra } from '../../test/support/env';
import { createTestTopic, readAll } from '../../test/support/kafka';
import { startTestProducer, useTestProducer } from '../../test/support/producer-service';

describe('POST /events (batches) against real Kafka', () => {
  const producer = useTestProducer(3, {
    BATCH_MAX_EVENTS: '50',
    BATCH_MAX_BYTES: '8192',
  });

  it('accepts a JSON array and answers each event with its id and normalized domain', async () => {
    const response = await producer.service.app.inject({
      method: 'POST',
      url: '/events',
      payload: [
        { domain: 'A.example', type: 'delivered' },
        {
          domain: 'b.example.',
          type: 'bounced',
          eventId: 'batch-1',
          occurredAt: '2026-03-04T05:06:07Z',
        },
      ],
    });
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({
      accepted: 2,
      events: [
        { eventId: expect.any(String), domain: 'a.example', type: 'delivered' },
        { eventId: 'batch-1', domain: 'b.example', type: 'bounced' },
      ],
      consistencyToken: expect.stringMatching(/^events-[^:]+:\d+:\d+(,\d+:\d+)*$/) as string,
    });
    const keys = (await readAll(producer.topic.name)).map((r) => r.message.key?.toString());
    expect(keys).toEqual(expect.arrayContaining(['a.example', 'b.example']));
  });

  it('answers the count only with Prefer: return=minimal, and publishes every event', async () => {
    const response = await producer.service.app.inject({
      method: 'POST',
      url: '/events',
      headers: { prefer: 'return=minimal' },
      payload: [
        { domain: 'Minimal-1.example', type: 'delivered', eventId: 'minimal-1' },
        { domain: 'minimal-2.example', type: 'bounced', eventId: 'minimal-2' },
      ],
    });
    expect(response.statusCode).toBe(202);
    expect(response.headers['preference-applied']).toBe('return=minimal');
    expect(response.json()).toEqual({
      accepted: 2,
      consistencyToken: expect.stringMatching(/^events-[^:]+:\d+:\d+(,\d+:\d+)*$/) as string,
    });
    const decoder = createEventDecoder({ registryUrl: testInfra().registryUrl });
    const published = await Promise.all(
      (await readAll(producer.topic.name))
        .filter((r) => r.message.key?.toString().startsWith('minimal-'))
        .map(async (r) => ({
          key: r.message.key?.toString(),
          ...(await decoder.decode(r.message.value)),
        })),
    );
    expect(published.sort((a, b) => a.eventId.localeCompare(b.eventId))).toEqual([
      expect.objectContaining({
        key: 'minimal-1.example',
        eventId: 'minimal-1',
        domain: 'minimal-1.example',
        type: 'delivered',
      }),
      expect.objectContaining({
        key: 'minimal-2.example',
        eventId: 'minimal-2',
        domain: 'minimal-2.example',
        type: 'bounced',
      }),
    ]);
  });

  it('counts the accepted events by type in /metrics', async () => {
    const accepted = async (type: string) => {
      const text = (await producer.service.app.inject('/metrics')).body;
      const line = text
        .split('\n')
        .find((l) => l.startsWith(`catchall_events_accepted_total{type="${type}"`));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const before = { delivered: await accepted('delivered'), bounced: await accepted('bounced') };
    const types = ['delivered', 'bounced', 'delivered', 'delivered', 'bounced'];
    const response = await producer.service.app.inject({
      method: 'POST',
      url: '/events',
      payload: types.map((type, i) => ({ domain: `metric-${i}.example`, type })),
    });
    expect(response.statusCode).toBe(202);
    expect(await accepted('delivered')).toBe(before.delivered + 3);
    expect(await accepted('bounced')).toBe(before.bounced + 2);
  });

  it('accepts NDJSON', async () => {
    const response = await producer.service.app.inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/x-ndjson' },
      payload:
        '{"domain":"n1.example","type":"delivered"}\n{"domain":"n2.example","type":"bounced"}\n',
    });
    expect(response.statusCode).toBe(202);
    expect(response.json().accepted).toBe(2);
  });

  it('refuses the whole batch when any event is bad, listing each bad one by index', async () => {
    const before = (await readAll(producer.topic.name)).length;
    const response = await producer.service.app.inject({
      method: 'POST',
      url: '/events',
      payload: [
        { domain: 'ok.example', type: 'delivered' },
        { domain: 'bad_domain!', type: 'delivered' },
        { domain: 'ok2.example', type: 'opened' },
        { domain: 'ok3.example', type: 'bounced', extra: 1 },
      ],
    });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body).toMatchObject({
      statusCode: 400,
      code: 'CATCHALL_INVALID_BATCH',
      error: 'Bad Request',
    });
    expect(body.errors.map((e: { index: number }) => e.index)).toEqual([1, 2, 3]);
    expect(body.errors[0].message).toMatch(/bad_domain!/);
    expect((await readAll(producer.topic.name)).length).toBe(before);
  });

  it('reports an NDJSON line that is not JSON by its index', async () => {
    const response = await producer.service.app.inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/x-ndjson' },
      payload: '{"domain":"n1.example","type":"delivered"}\n{not json}\n',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([
      { index: 1, code: 'CATCHALL_INVALID_BODY', message: expect.stringMatching(/not JSON/) },
    ]);
  });

  it('answers 413 beyond the maximum count of events', async () => {
    const payload = Array.from({ length: 51 }, (_, i) => ({
      domain: `c${i}.example`,
      type: 'delivered',
    }));
    const response = await producer.service.app.inject({ method: 'POST', url: '/events', payload });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ code: 'CATCHALL_BATCH_TOO_LARGE' });
  });

  it('answers 413 beyond the maximum body size', async () => {
    const payload = Array.from({ length: 40 }, (_, i) => ({
      domain: `${'x'.repeat(200)}${i}.example`,
      type: 'delivered',
    }));
    const response = await producer.service.app.inject({ method: 'POST', url: '/events', payload });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ statusCode: 413 });
  });

  it('answers 400 for a body that is not an array', async () => {
    const response = await producer.service.app.inject({
      method: 'POST',
      url: '/events',
      payload: { domain: 'x.example' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'CATCHALL_INVALID_BODY' });
  });
});

describe('optional bearer-token authentication and rate limiting', () => {
  const producer = useTestProducer(1, {
    API_TOKENS: 'token-a, token-b',
    RATE_LIMIT_PER_MINUTE: '3',
  });

  it('answers 401 without a token or with a wrong one, and 202 with a configured one', async () => {
    const none = await producer.service.app.inject({
      method: 'PUT',
      url: '/events/a.example/delivered',
    });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ code: 'CATCHALL_UNAUTHORIZED' });
    const wrong = await producer.service.app.inject({
      method: 'PUT',
      url: '/events/a.example/delivered',
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.statusCode).toBe(401);
    const right = await producer.service.app.inject({
      method: 'PUT',
      url: '/events/a.example/delivered',
      headers: { authorization: 'Bearer token-b' },
    });
    expect(right.statusCode).toBe(202);
  });

  it('keeps health, readiness and metrics open', async () => {
    expect((await producer.service.app.inject('/healthz')).statusCode).toBe(200);
    expect((await producer.service.app.inject('/metrics')).statusCode).toBe(200);
  });

  it('answers 429 with Retry-After once a client passes its rate', async () => {
    const put = () =>
      producer.service.app.inject({
        method: 'PUT',
        url: '/events/r.example/delivered',
        headers: { authorization: 'Bearer token-a' },
      });
    const codes = [];
    for (let i = 0; i < 4; i += 1) codes.push((await put()).statusCode);
    expect(codes).toEqual([202, 202, 202, 429]);
    const limited = await put();
    expect(limited.headers['retry-after']).toBeDefined();
    expect(limited.json()).toMatchObject({ code: 'CATCHALL_RATE_LIMITED' });
  });
});

describe('authentication off (the default)', () => {
  it('accepts requests without a token', async () => {
    const topic = await createTestTopic(1);
    const service = await startTestProducer(topic.name);
    try {
      const response = await service.app.inject({
        method: 'PUT',
        url: '/events/open.example/delivered',
      });
      expect(response.statusCode).toBe(202);
    } finally {
      await service.lifecycle.shutdown('test done');
      await topic.delete();
    }
  });
});
