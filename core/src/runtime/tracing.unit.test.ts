import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createServiceApp } from './http';
import { createMetricsRegistry } from './metrics';
import { createLogger } from './logger';
import { createTracing, tracingOff, type Tracing } from './tracing';
import { createSdkTracing, errorType } from './tracing-sdk';
import { errors } from './errors';
import { PostgresFailure } from './postgres';

const logger = createLogger({ name: 'tracing-test', level: 'silent' });
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

function tracingInMemory(linkCountLimit = 128): { tracing: Tracing; spans: () => ReadableSpan[] } {
  const exporter = new InMemorySpanExporter();
  const tracing = createSdkTracing(
    { endpoint: 'http://127.0.0.1:1', serviceName: 'catchall-test', linkCountLimit, logger },
    exporter,
  );
  return { tracing, spans: () => exporter.getFinishedSpans() };
}

function appWith(tracing: Tracing) {
  const app = createServiceApp({
    logger,
    metrics: createMetricsRegistry('tracing-test'),
    readiness: {},
    tracing,
  });
  let headers: Record<string, string> | undefined;
  app.get('/things/:id', async (request) => {
    headers = tracing.recordHeaders(request);
    return { ok: true };
  });
  app.get('/broken', async () => {
    throw new Error('boom');
  });
  return { app, recordHeaders: () => headers };
}

const traceparent = (trace: string, span: string, flags = '01') => `00-${trace}-${span}-${flags}`;

describe('tracing off', () => {
  it('is chosen by an empty endpoint, and adds no header to the records of a request', async () => {
    const tracing = createTracing({ endpoint: '', serviceName: 'x', logger });
    expect(tracing).toBe(tracingOff);
    const { app, recordHeaders } = appWith(tracing);
    const answer = await app.inject({
      method: 'GET',
      url: '/things/1',
      headers: { traceparent: traceparent(CLIENT_TRACE, CLIENT_SPAN) },
    });
    expect(answer.statusCode).toBe(200);
    expect(recordHeaders()).toBeUndefined();
    await app.close();
  });

  it('collects no flush link and runs the flush as it is', async () => {
    const links = tracingOff.flushLinks();
    links.add({ traceparent: Buffer.from(traceparent(CLIENT_TRACE, CLIENT_SPAN)) });
    expect(links.take()).toEqual({ links: [], dropped: 0 });
    await expect(
      tracingOff.inFlushSpan(
        { topic: 't', partition: 0, domains: 1, tries: 0, nextOffset: 1 },
        links.take(),
        async () => 'committed',
      ),
    ).resolves.toBe('committed');
  });
});

describe('tracing on: HTTP spans', () => {
  it('gives a request a server span continuing the client traceparent, with semantic-convention attributes', async () => {
    const { tracing, spans } = tracingInMemory();
    const { app, recordHeaders } = appWith(tracing);
    await app.inject({
      method: 'GET',
      url: '/things/42?x=1',
      headers: { traceparent: traceparent(CLIENT_TRACE, CLIENT_SPAN) },
    });
    await app.close();
    const [span] = spans();
    expect(spans()).toHaveLength(1);
    expect(span!.name).toBe('GET /things/:id');
    expect(span!.kind).toBe(SpanKind.SERVER);
    expect(span!.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(span!.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(span!.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/things/:id',
      'http.response.status_code': 200,
      'url.path': '/things/42',
    });
    expect(span!.resource.attributes['service.name']).toBe('catchall-test');
    // The records a request writes carry its span's context.
    expect(recordHeaders()).toEqual({
      traceparent: traceparent(CLIENT_TRACE, span!.spanContext().spanId),
    });
  });

  it('starts a new trace for a request without (or with a malformed) traceparent', async () => {
    const { tracing, spans } = tracingInMemory();
    const { app } = appWith(tracing);
    await app.inject({ method: 'GET', url: '/things/1' });
    await app.inject({
      method: 'GET',
      url: '/things/2',
      headers: { traceparent: '00-not-a-trace-01' },
    });
    await app.close();
    expect(spans()).toHaveLength(2);
    for (const span of spans()) {
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.spanContext().traceId).not.toBe(CLIENT_TRACE);
    }
  });

  it('marks a 5xx answer as an error, not a 4xx one, and names an unrouted request by its method', async () => {
    const { tracing, spans } = tracingInMemory();
    const { app } = appWith(tracing);
    await app.inject({ method: 'GET', url: '/broken' });
    await app.inject({ method: 'GET', url: '/nowhere' });
    await app.close();
    const [broken, nowhere] = spans();
    expect(broken!.status.code).toBe(SpanStatusCode.ERROR);
    expect(broken!.attributes['http.response.status_code']).toBe(500);
    expect(broken!.attributes['error.type']).toBe('500');
    expect(nowhere!.name).toBe('GET');
    expect(nowhere!.attributes['http.response.status_code']).toBe(404);
    expect(nowhere!.attributes['http.route']).toBeUndefined();
    expect(nowhere!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('does not trace probes and scrapes', async () => {
    const { tracing, spans } = tracingInMemory();
    const { app } = appWith(tracing);
    for (const url of ['/healthz', '/readyz', '/metrics']) await app.inject({ method: 'GET', url });
    await app.close();
    expect(spans()).toEqual([]);
  });
});

describe('tracing on: flush spans and their links', () => {
  const attributes = { topic: 'events', partition: 3, domains: 2, tries: 1, nextOffset: 10 };

  it('links a flush to each distinct record context once, ignoring records without or with a malformed one', async () => {
    const { tracing, spans } = tracingInMemory();
    const links = tracing.flushLinks();
    const a = traceparent(CLIENT_TRACE, CLIENT_SPAN);
    const b = traceparent('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331');
    links.add({ traceparent: Buffer.from(a), tracestate: Buffer.from('vendor=1') });
    links.add({ traceparent: Buffer.from(a) });
    links.add({ traceparent: b });
    links.add({});
    links.add(undefined);
    links.add({ traceparent: Buffer.from('garbage') });
    links.add({ traceparent: traceparent('0'.repeat(32), CLIENT_SPAN) });
    await tracing.inFlushSpan(attributes, links.take(), async () => 'committed');
    const [span] = spans();
    expect(span!.name).toBe('projector flush');
    expect(span!.kind).toBe(SpanKind.CONSUMER);
    expect(span!.links.map((l) => l.context.traceId)).toEqual([
      CLIENT_TRACE,
      '0af7651916cd43dd8448eb211c80319c',
    ]);
    expect(span!.links[0]!.context.traceState?.get('vendor')).toBe('1');
    expect(span!.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': 'events',
      'messaging.destination.partition.id': '3',
      'catchall.flush.domains': 2,
      'catchall.flush.next_offset': 10,
      'catchall.flush.links': 2,
      'catchall.flush.links_dropped': 0,
    });
    // Taken: the next flush starts with none.
    expect(links.take()).toEqual({ links: [], dropped: 0 });
  });

  it('links to the first contexts up to the link limit and counts the records left out', async () => {
    const { tracing, spans } = tracingInMemory(2);
    const links = tracing.flushLinks();
    const spanIds = ['1', '2', '3', '4'].map((d) => d.repeat(16));
    for (const id of spanIds) links.add({ traceparent: traceparent(CLIENT_TRACE, id) });
    // A context already linked is not counted as left out.
    links.add({ traceparent: traceparent(CLIENT_TRACE, spanIds[0]!) });
    await tracing.inFlushSpan(attributes, links.take(), async () => undefined);
    const [span] = spans();
    expect(span!.links.map((l) => l.context.spanId)).toEqual(spanIds.slice(0, 2));
    expect(span!.attributes['catchall.flush.links_dropped']).toBe(2);
  });

  it('records a failed transaction on its span, with the error code as error.type, and rethrows', async () => {
    const { tracing, spans } = tracingInMemory();
    const failure = new PostgresFailure(
      'unavailable',
      '57P01',
      new Error('terminating connection'),
    );
    await expect(
      tracing.inFlushSpan(attributes, { links: [], dropped: 0 }, () => Promise.reject(failure)),
    ).rejects.toBe(failure);
    const [span] = spans();
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.events.map((e) => e.name)).toEqual(['exception']);
    expect(span!.attributes['error.type']).toBe('CATCHALL_POSTGRES_UNAVAILABLE');
  });
});

describe('error.type', () => {
  class PositionConflict extends Error {}
  class NamedFailure extends Error {
    override name = 'NamedFailure';
  }

  it.each([
    ['a catalogue error, by its code', errors.invalidDomain('x', 'y'), 'CATCHALL_INVALID_DOMAIN'],
    [
      'a Postgres failure, by its code',
      new PostgresFailure('refused', '23505', new Error('duplicate key')),
      'CATCHALL_POSTGRES_REFUSED',
    ],
    [
      'a system error, by its code',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      'ECONNREFUSED',
    ],
    ['an error without a code, by its class', new PositionConflict('lost'), 'PositionConflict'],
    ['an error that names itself, by its class', new NamedFailure('x'), 'NamedFailure'],
    ['a plain Error', new Error('x'), 'Error'],
    [
      'an error whose code is not a string, by its class',
      Object.assign(new TypeError('x'), { code: 42 }),
      'TypeError',
    ],
    ['an empty code, by its class', Object.assign(new RangeError('x'), { code: '' }), 'RangeError'],
    ['a thrown value that is not an Error, as the fallback', 'boom', '_OTHER'],
  ])('names %s', (_what, err, expected) => {
    expect(errorType(err)).toBe(expected);
  });
});
