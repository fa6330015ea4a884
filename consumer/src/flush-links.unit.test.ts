import type { KafkaMessage } from 'kafkajs';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { createSdkTracing } from '../../core/src/runtime/tracing-sdk';
import {
  createInMemoryStore,
  fetchedBatch,
  inMemoryPartitionWork,
  jsonRecord,
} from '../../test/support/in-memory-ports';
import { testLogger } from '../../test/support/logger';
import { createPartitionState } from './partition-state';

const TRACE_A = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACE_B = '0af7651916cd43dd8448eb211c80319c';
const parent = (trace: string, span: string) => `00-${trace}-${span}-01`;

function setUp() {
  const exporter = new InMemorySpanExporter();
  const tracing = createSdkTracing(
    {
      endpoint: 'http://127.0.0.1:1',
      serviceName: 'catchall-consumer',
      linkCountLimit: 128,
      logger: testLogger('flush-links'),
    },
    exporter,
  );
  const store = createInMemoryStore();
  const { work } = inMemoryPartitionWork(store, undefined, { tracing });
  const state = createPartitionState('events', 2);
  const control = { isStale: () => false, heartbeat: () => Promise.resolve() };
  /** A record of one delivery to `domain`, with `headers`. */
  const record = (
    offset: number,
    domain: string,
    headers: Record<string, Buffer> = {},
  ): KafkaMessage => ({ ...jsonRecord(offset, { domain }), headers }) as KafkaMessage;
  return {
    store,
    work,
    state,
    record,
    apply: (records: KafkaMessage[]) => work.applyBatch(state, fetchedBatch(2, records), control),
    spans: () => exporter.getFinishedSpans(),
  };
}

describe('the flush span of the projector', () => {
  it('given records with trace contexts, when they are flushed, then one span for the transaction links to each distinct context', async () => {
    const { work, state, record, apply, spans, store } = setUp();
    await apply([
      record(0, 'a.example', { traceparent: Buffer.from(parent(TRACE_A, '1'.repeat(16))) }),
      record(1, 'b.example', { traceparent: Buffer.from(parent(TRACE_A, '1'.repeat(16))) }),
      record(2, 'c.example', { traceparent: Buffer.from(parent(TRACE_B, '2'.repeat(16))) }),
      record(3, 'd.example', { traceparent: Buffer.from('00-broken') }),
      record(4, 'e.example'),
    ]);
    await work.flush(state);
    expect(store.rows.size).toBe(5);
    expect(spans()).toHaveLength(1);
    const [span] = spans();
    expect(span!.links.map((l) => l.context.traceId)).toEqual([TRACE_A, TRACE_B]);
    expect(span!.attributes).toMatchObject({
      'messaging.destination.partition.id': '2',
      // jsonRecord's events have ids of their own: each is a try checked for duplicates.
      'catchall.flush.tries': 5,
      'catchall.flush.next_offset': 5,
    });
  });

  it('given records already applied, when they come again, then no flush span links to them', async () => {
    const { work, state, record, apply, spans } = setUp();
    const records = [
      record(0, 'a.example', { traceparent: Buffer.from(parent(TRACE_A, '1'.repeat(16))) }),
    ];
    await apply(records);
    await work.flush(state);
    await apply(records);
    await work.flush(state);
    expect(spans()).toHaveLength(1);
  });

  it('given a batch of records that only move the position (dead letters), when it is flushed, then no span is made', async () => {
    const { work, state, apply, spans, store } = setUp();
    await apply([jsonRecord(0, Buffer.from('not json'))]);
    await work.flush(state);
    expect(store.stored.get(2)).toBe(1);
    expect(spans()).toEqual([]);
  });
});
