import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { tracingOff } from '@catchall/core';
import { createSdkTracing } from '../../core/src/runtime/tracing-sdk';
import { inMemoryIngestApp } from '../../test/support/ingest-ports';
import { testLogger } from '../../test/support/logger';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const clientTraceparent = `00-${CLIENT_TRACE}-00f067aa0ba902b7-01`;

function tracingOn() {
  const exporter = new InMemorySpanExporter();
  const tracing = createSdkTracing(
    {
      endpoint: 'http://127.0.0.1:1',
      serviceName: 'catchall-producer-api',
      linkCountLimit: 128,
      logger: testLogger('trace-context'),
    },
    exporter,
  );
  return { tracing, spans: () => exporter.getFinishedSpans() };
}

describe('the trace context in the records the ingest API writes', () => {
  it('given tracing off, when events are accepted, then their records carry no header at all', async () => {
    const { app, kafka } = inMemoryIngestApp('trace-off', { tracing: tracingOff });
    const put = await app.inject({
      method: 'PUT',
      url: '/events/off.example/delivered',
      headers: { traceparent: clientTraceparent },
    });
    const post = await app.inject({
      method: 'POST',
      url: '/events',
      payload: [{ domain: 'a.example', type: 'bounced' }],
    });
    await app.close();
    expect([put.statusCode, post.statusCode]).toEqual([202, 202]);
    expect(kafka.committed).toHaveLength(2);
    for (const record of kafka.committed) expect(record.headers).toBeUndefined();
  });

  it("given tracing on, when a client's traceparent comes with a PUT, then the record carries the request span's context in that trace", async () => {
    const { tracing, spans } = tracingOn();
    const { app, kafka } = inMemoryIngestApp('trace-on', { tracing });
    const put = await app.inject({
      method: 'PUT',
      url: '/events/on.example/delivered',
      headers: { traceparent: clientTraceparent },
    });
    await app.close();
    expect(put.statusCode).toBe(202);
    const [span] = spans();
    expect(span!.name).toBe('PUT /events/:domain/delivered');
    expect(span!.attributes['http.response.status_code']).toBe(202);
    expect(kafka.committed[0]!.headers).toEqual({
      traceparent: `00-${CLIENT_TRACE}-${span!.spanContext().spanId}-01`,
    });
  });

  it('given tracing on, when a batch is posted, then each of its records carries the request span context', async () => {
    const { tracing, spans } = tracingOn();
    const { app, kafka } = inMemoryIngestApp('trace-batch', { tracing });
    const post = await app.inject({
      method: 'POST',
      url: '/events',
      payload: [
        { domain: 'a.example', type: 'delivered' },
        { domain: 'b.example', type: 'bounced' },
      ],
    });
    await app.close();
    expect(post.statusCode).toBe(202);
    const [span] = spans();
    const { traceId, spanId } = span!.spanContext();
    expect(kafka.committed.map((r) => r.headers)).toEqual([
      { traceparent: `00-${traceId}-${spanId}-01` },
      { traceparent: `00-${traceId}-${spanId}-01` },
    ]);
  });
});
