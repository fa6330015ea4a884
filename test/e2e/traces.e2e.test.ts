import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startJaeger, type RunningJaeger } from '../../scripts/src/infra';
import { encoderFor, produceMessages, toEvent } from '../support/events';
import { projectorEnv } from '../support/env';
import { createTestTopic, readAll, type TestTopic } from '../support/kafka';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { spawnAllServices, type RunningService } from '../support/services';
import { waitFor } from '../support/wait';

/** A span as Jaeger's query API (`/api/traces`) gives it. */
interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: 'CHILD_OF' | 'FOLLOWS_FROM'; traceID: string; spanID: string }[];
  tags: { key: string; value: unknown }[];
  processID: string;
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
/** Jaeger writes ids without leading zeros. */
const sameId = (a: string, b: string) => a.replace(/^0+/, '') === b.replace(/^0+/, '');
const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;

/**
 * Tracing on, end to end, against a real OTLP receiver (Jaeger, in memory): a client's
 * trace runs through the ingest API's span, the Kafka record's `traceparent`, the
 * projector's flush span (linked, not a child: one flush applies many requests' records)
 * and the query API's span.
 */
describe('traces through the ingest API, Kafka, the projector and the query API', () => {
  let topic: TestTopic;
  let db: TestDatabase;
  let jaeger: RunningJaeger | undefined;
  let services: RunningService[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'traces-e2e-'));

  async function jaegerGet<T>(pathAndQuery: string): Promise<T | undefined> {
    const response = await fetch(`${jaeger!.queryUrl}${pathAndQuery}`);
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`Jaeger ${pathAndQuery}: ${response.status}`);
    return ((await response.json()) as { data: T }).data;
  }

  /** The spans of a trace once `ready` says every expected one has arrived. */
  function traceOnce(traceId: string, ready: (t: JaegerTrace) => boolean): Promise<JaegerTrace> {
    return waitFor(
      `trace ${traceId} in Jaeger`,
      async () => {
        const [trace] = (await jaegerGet<JaegerTrace[]>(`/api/traces/${traceId}`)) ?? [];
        return trace && ready(trace) ? trace : undefined;
      },
      { timeoutMs: 30000, intervalMs: 250 },
    );
  }

  /** The consumer's flush spans that link to `traceId` (and `spanId`, when given). */
  function flushSpansLinkedTo(traceId: string, spanId?: string): Promise<JaegerSpan[]> {
    return waitFor(
      `a flush span linked to ${traceId}`,
      async () => {
        const traces =
          (await jaegerGet<JaegerTrace[]>(
            `/api/traces?service=catchall-consumer&operation=${encodeURIComponent('projector flush')}&limit=200&lookback=1h`,
          )) ?? [];
        const linked = traces
          .flatMap((t) => t.spans)
          .filter((s) =>
            s.references.some(
              (r) =>
                r.refType === 'FOLLOWS_FROM' &&
                sameId(r.traceID, traceId) &&
                (spanId === undefined || sameId(r.spanID, spanId)),
            ),
          );
        return linked.length > 0 ? linked : undefined;
      },
      { timeoutMs: 30000, intervalMs: 250 },
    );
  }

  beforeAll(async () => {
    topic = await createTestTopic(3);
    db = await createTestDatabase();
    jaeger = await startJaeger({ dir: path.join(dir, 'jaeger') });
    services = await spawnAllServices({
      ...projectorEnv(topic.name, db.url),
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl,
      // Spans leave within a fifth of a second rather than the default five.
      OTEL_BSP_SCHEDULE_DELAY: '200',
    });
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await jaeger?.stop();
    await db.drop();
    await topic.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  it("carries a client's trace from its PUT through the record to the flush that applied it, and into a read", async () => {
    const [ingest, , query] = services;
    const traceId = hex(16);
    const clientSpan = hex(8);
    const domain = `traced-${hex(4)}.example`;
    const put = await fetch(`${ingest!.url}/events/${domain}/delivered`, {
      method: 'PUT',
      headers: { traceparent: `00-${traceId}-${clientSpan}-01` },
    });
    expect(put.status).toBe(202);

    // The ingest API's span: a child of the client's, with the HTTP attributes.
    const ingestTrace = await traceOnce(traceId, (t) => t.spans.length > 0);
    const [putSpan] = ingestTrace.spans;
    expect(putSpan!.operationName).toBe('PUT /events/:domain/delivered');
    expect(ingestTrace.processes[putSpan!.processID]!.serviceName).toBe('catchall-producer-api');
    expect(putSpan!.references).toEqual([
      expect.objectContaining({ refType: 'CHILD_OF', spanID: clientSpan }),
    ]);
    expect(tag(putSpan!, 'http.request.method')).toBe('PUT');
    expect(tag(putSpan!, 'http.route')).toBe('/events/:domain/delivered');
    expect(tag(putSpan!, 'http.response.status_code')).toBe(202);

    // The record: its traceparent is the ingest span's context.
    const records = await readAll(topic.name);
    const record = records.find((r) => r.message.key?.toString() === domain);
    expect(record?.message.headers?.traceparent?.toString()).toBe(
      `00-${traceId}-${putSpan!.spanID.padStart(16, '0')}-01`,
    );

    // The flush that applied it: its own trace, linked to the ingest span.
    const [flush] = await flushSpansLinkedTo(traceId, putSpan!.spanID);
    expect(tag(flush!, 'messaging.destination.name')).toBe(topic.name);
    expect(tag(flush!, 'messaging.destination.partition.id')).toBe(String(record!.partition));
    expect(Number(tag(flush!, 'catchall.flush.domains'))).toBeGreaterThanOrEqual(1);

    // A read in the same trace: the query API's span.
    const read = await waitFor('the event in the read model', async () => {
      const answer = await fetch(`${query!.url}/domains/${domain}`, {
        headers: { traceparent: `00-${traceId}-${hex(8)}-01` },
      });
      return answer.status === 200 ? answer : undefined;
    });
    expect(((await read.json()) as { delivered: number }).delivered).toBe(1);
    const withRead = await traceOnce(traceId, (t) =>
      t.spans.some((s) => s.operationName === 'GET /domains/:domain'),
    );
    const getSpan = withRead.spans.find((s) => s.operationName === 'GET /domains/:domain')!;
    expect(withRead.processes[getSpan.processID]!.serviceName).toBe('catchall-query-api');
    expect(tag(getSpan, 'http.route')).toBe('/domains/:domain');
    expect(tag(getSpan, 'http.response.status_code')).toBe(200);
  });

  it("links a flush to a direct producer's own traceparent, and counts records with a malformed one or none", async () => {
    const [, , query] = services;
    const encoder = await encoderFor(topic.name);
    const traceId = hex(16);
    const producerSpan = hex(8);
    const domain = `direct-${hex(4)}.example`;
    const value = (type: 'delivered' | 'bounced') => encoder.encode(toEvent({ domain, type }));
    await produceMessages(topic.name, [
      {
        key: domain,
        value: value('delivered'),
        headers: { traceparent: `00-${traceId}-${producerSpan}-01` },
      },
      { key: domain, value: value('delivered'), headers: { traceparent: 'not a trace context' } },
      { key: domain, value: value('delivered') },
    ]);
    await flushSpansLinkedTo(traceId, producerSpan);
    const counts = await waitFor('the three events counted', async () => {
      const answer = await fetch(`${query!.url}/domains/${domain}`);
      if (answer.status !== 200) return undefined;
      const body = (await answer.json()) as { delivered: number };
      return body.delivered === 3 ? body : undefined;
    });
    expect(counts.delivered).toBe(3);
  });
});
