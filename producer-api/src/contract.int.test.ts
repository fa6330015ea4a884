import type { InjectOptions } from 'fastify';
import { deflateSync, gzipSync } from 'node:zlib';
import { createEventDecoder } from '@catchall/schemas';
import { testInfra } from '../../test/support/env';
import { readAll } from '../../test/support/kafka';
import { useTestProducer } from '../../test/support/producer-service';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** 194 characters: three labels of 60, then example.com. */
const NAME_194 = `${'a'.repeat(60)}.`.repeat(3) + 'example.com';

describe('the ingest API contract: every valid input works, every bad one gets a 4xx with a code', () => {
  const producer = useTestProducer(3);
  const inject = (options: InjectOptions | string) => producer.service.app.inject(options);

  async function storedEvent(eventId: string) {
    const decoder = createEventDecoder({ registryUrl: testInfra().registryUrl });
    for (const record of await readAll(producer.topic.name)) {
      const event = await decoder.decode(record.message.value);
      if (event.eventId === eventId) return event;
    }
    return undefined;
  }

  it('takes a 194-character name on the path as in a batch', async () => {
    expect(NAME_194).toHaveLength(194);
    const put = await inject({ method: 'PUT', url: `/events/${NAME_194}/delivered` });
    expect(put.statusCode).toBe(202);
    expect(put.json().domain).toBe(NAME_194);
    const batch = await inject({
      method: 'POST',
      url: '/events',
      payload: [{ domain: NAME_194, type: 'delivered' }],
    });
    expect(batch.statusCode).toBe(202);
    expect(batch.json().events[0].domain).toBe(NAME_194);
  });

  it('refuses an address as a domain (RFC 1123 section 2.1) on every route', async () => {
    const put = await inject({ method: 'PUT', url: '/events/1.2.3.4/delivered' });
    expect(put.statusCode).toBe(400);
    expect(put.json()).toMatchObject({ code: 'CATCHALL_INVALID_DOMAIN' });
    expect(put.json().message).toMatch(/all-numeric top-level label/);
    const batch = await inject({
      method: 'POST',
      url: '/events',
      payload: [{ domain: '1.2.3.4', type: 'delivered' }],
    });
    expect(batch.statusCode).toBe(400);
    expect(batch.json().errors).toEqual([
      { index: 0, code: 'CATCHALL_INVALID_DOMAIN', message: expect.stringMatching(/numeric/) },
    ]);
  });

  it('reads a leap second as second 59 and stores it', async () => {
    const put = await inject({
      method: 'PUT',
      url: '/events/leap.example/delivered',
      headers: { 'idempotency-key': 'leap-second-1' },
      payload: { occurredAt: '2016-12-31T23:59:60Z' },
    });
    expect(put.statusCode).toBe(202);
    const batch = await inject({
      method: 'POST',
      url: '/events',
      payload: [
        {
          domain: 'leap.example',
          type: 'bounced',
          eventId: 'leap-second-2',
          occurredAt: '2016-12-31t23:59:60.5z',
        },
      ],
    });
    expect(batch.statusCode).toBe(202);
    expect((await storedEvent('leap-second-1'))?.occurredAt).toBe(
      Date.UTC(2016, 11, 31, 23, 59, 59),
    );
    expect((await storedEvent('leap-second-2'))?.occurredAt).toBe(
      Date.UTC(2016, 11, 31, 23, 59, 59, 500),
    );
  });

  it('answers 400 naming the field (and the index in a batch) for a time that is not RFC 3339', async () => {
    const put = await inject({
      method: 'PUT',
      url: '/events/time.example/delivered',
      payload: { occurredAt: '2016-02-30T00:00:00Z' },
    });
    expect(put.statusCode).toBe(400);
    expect(put.json()).toMatchObject({ code: 'CATCHALL_INVALID_EVENT_TIME' });
    expect(put.json().message).toMatch(/occurredAt "2016-02-30T00:00:00Z"/);
    const batch = await inject({
      method: 'POST',
      url: '/events',
      payload: [
        { domain: 'time.example', type: 'delivered' },
        { domain: 'time.example', type: 'delivered', occurredAt: '2016-12-31 23:59:59Z' },
      ],
    });
    expect(batch.statusCode).toBe(400);
    expect(batch.json().errors).toEqual([
      {
        index: 1,
        code: 'CATCHALL_INVALID_EVENT_TIME',
        message: expect.stringMatching(/occurredAt "2016-12-31 23:59:59Z"/),
      },
    ]);
  });

  it('coerces no types and refuses ill-formed Unicode', async () => {
    for (const payload of [
      '{"source":["a"]}',
      '{"source":1}',
      '{"occurredAt":0}',
      '{"source":"\\ud800"}',
    ]) {
      const response = await inject({
        method: 'PUT',
        url: '/events/types.example/delivered',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect({ payload, status: response.statusCode }).toEqual({ payload, status: 400 });
      expect(response.json()).toMatchObject({ code: 'CATCHALL_INVALID_REQUEST' });
    }
    const batch = await inject({
      method: 'POST',
      url: '/events',
      payload: [{ domain: 1, type: 'delivered' }],
    });
    expect(batch.statusCode).toBe(400);
    expect(batch.json()).toMatchObject({ code: 'CATCHALL_INVALID_BATCH' });
  });

  it('takes a PUT without a body, with Content-Type: application/json too', async () => {
    const response = await inject({
      method: 'PUT',
      url: '/events/nobody.example/delivered',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.statusCode).toBe(202);
  });

  it('answers a batch with a byte-order mark the same as JSON and as NDJSON', async () => {
    const json = await inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/json' },
      payload: Buffer.concat([BOM, Buffer.from('[{"domain":"bom.example","type":"delivered"}]')]),
    });
    const ndjson = await inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/x-ndjson' },
      payload: Buffer.concat([BOM, Buffer.from('{"domain":"bom.example","type":"delivered"}\n')]),
    });
    expect([json.statusCode, ndjson.statusCode]).toEqual([202, 202]);
    const invalid = await inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/x-ndjson' },
      payload: Buffer.from([0x7b, 0xff, 0x7d, 0x0a]),
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({ code: 'CATCHALL_INVALID_BODY' });
  });

  it('takes gzip and deflate batches; 400 for a body not in its coding, 415 for an unknown coding', async () => {
    const body = Buffer.from(JSON.stringify([{ domain: 'zip.example', type: 'delivered' }]));
    for (const [coding, payload] of [
      ['gzip', gzipSync(body)],
      ['deflate', deflateSync(body)],
    ] as const) {
      const response = await inject({
        method: 'POST',
        url: '/events',
        headers: { 'content-type': 'application/json', 'content-encoding': coding },
        payload,
      });
      expect({ coding, status: response.statusCode }).toEqual({ coding, status: 202 });
    }
    const plainAsBr = await inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/json', 'content-encoding': 'br' },
      payload: body,
    });
    expect(plainAsBr.statusCode).toBe(400);
    expect(plainAsBr.json()).toMatchObject({ code: 'CATCHALL_INVALID_BODY' });
    const unknown = await inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/json', 'content-encoding': 'compress' },
      payload: body,
    });
    expect(unknown.statusCode).toBe(415);
    expect(unknown.json()).toMatchObject({ code: 'CATCHALL_UNSUPPORTED_ENCODING' });
  });

  it('answers 405 with Allow for another method on an existing path', async () => {
    const del = await inject({ method: 'DELETE', url: '/events' });
    expect(del.statusCode).toBe(405);
    expect(del.headers.allow).toBe('POST');
    expect(del.json()).toMatchObject({ code: 'CATCHALL_METHOD_NOT_ALLOWED' });
    const options = await inject({ method: 'OPTIONS', url: '/events/example.com/bounced' });
    expect(options.statusCode).toBe(405);
    expect(options.headers.allow).toBe('PUT');
  });

  it('documents every answer, an optional PUT body and the real domain limit', async () => {
    const document = (await inject('/openapi.json')).json();
    const put = document.paths['/events/{domain}/delivered'].put;
    expect(put.requestBody.required).toBe(false);
    const domain = put.parameters.find((p: { name: string }) => p.name === 'domain');
    expect(domain.schema).toMatchObject({ maxLength: 1024, minLength: 1 });
    for (const operation of [put, document.paths['/events'].post]) {
      expect(Object.keys(operation.responses).sort()).toEqual(
        ['202', '400', '408', '413', '414', '415', '417', '431', '500', '503'].sort(),
      );
      expect(operation.responses['400'].content['application/json'].schema.required).toEqual([
        'statusCode',
        'code',
        'error',
        'message',
      ]);
    }
  });
});
