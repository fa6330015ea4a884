import type { Message } from 'kafkajs';
import { Registry } from 'prom-client';
import { parseConsistencyToken } from '@catchall/core';
import {
  createInMemoryProducerHandle,
  type InMemoryProducerHandle,
} from '../../test/support/in-memory-ports';
import { inMemoryIngestApp } from '../../test/support/ingest-ports';
import { testLogger } from '../../test/support/logger';
import { createProducerMetrics } from './metrics';
import { createPublisher, type PublisherOptions } from './publisher';

function publisherOver(kafka: InMemoryProducerHandle, options: Partial<PublisherOptions> = {}) {
  return createPublisher({
    producers: [kafka],
    idempotentProducers: [],
    topic: 'domain-events',
    lingerMs: 20,
    maxBatchRecords: 1000,
    maxRequestBytes: 1024 * 1024,
    maxQueuedRecords: 10_000,
    ackTimeoutMs: 5000,
    kafkaCheck: { failing: () => false },
    metrics: createProducerMetrics(new Registry()),
    logger: testLogger('consistency-token'),
    ...options,
  });
}

/** The ingest API over an in-memory transactional producer (3 partitions). */
const ingestApp = (consistencyTokens?: boolean) =>
  inMemoryIngestApp('consistency-token', {
    ...(consistencyTokens === undefined ? {} : { consistencyTokens }),
  });

/** Where each committed record went, as the log holds it: partition -> keys in offset order. */
function logOf(kafka: InMemoryProducerHandle): Map<number, string[]> {
  const log = new Map<number, string[]>();
  for (const t of kafka.transactions) {
    for (const m of t.requests.flat()) {
      const keys = log.get(m.partition!) ?? [];
      keys.push(String(m.key));
      log.set(m.partition!, keys);
    }
  }
  return log;
}

/** The offsets a direct producer would name for `keys`: per partition, its last record's. */
function expectedOffsets(kafka: InMemoryProducerHandle, keys: string[]): Map<number, number> {
  const expected = new Map<number, number>();
  for (const [partition, log] of logOf(kafka)) {
    log.forEach((key, offset) => {
      if (keys.includes(key)) expected.set(partition, offset);
    });
  }
  return expected;
}

const message = (key: string): Message => ({ key, value: Buffer.from(key) });

describe('consistency tokens at ingest', () => {
  it('given requests sharing one transaction over several produce requests, then each gets the last offset of its own records per partition', async () => {
    const kafka = createInMemoryProducerHandle();
    // Small produce requests: a request's records span several, each with its own base offsets.
    const publisher = publisherOver(kafka, { maxRequestBytes: 400 });
    const requests = Array.from({ length: 6 }, (_, r) =>
      Array.from({ length: 1 + r * 2 }, (_, i) => `r${r}-${i}.example`),
    );
    const answers = await Promise.all(
      requests.map((keys) => publisher.publish(keys.map(message), true)),
    );
    expect(kafka.transactions).toHaveLength(1);
    expect(kafka.transactions[0]!.requests.length).toBeGreaterThan(1);
    requests.forEach((keys, r) => expect(answers[r]).toEqual(expectedOffsets(kafka, keys)));
  });

  it('given offsets were not asked for, then publish resolves without them', async () => {
    const kafka = createInMemoryProducerHandle();
    const publisher = publisherOver(kafka);
    await expect(publisher.publish([message('a.example')])).resolves.toBeUndefined();
  });

  it('answers a PUT with the token in the header and the body, naming the record', async () => {
    const { app, kafka } = ingestApp();
    kafka.logEnds = [40, 50, 60];
    const response = await app.inject({ method: 'PUT', url: '/events/a.example/delivered' });
    expect(response.statusCode).toBe(202);
    const token = response.headers['consistency-token'];
    expect(response.json()).toMatchObject({ consistencyToken: token });
    const partition = kafka.committed[0]!.partition!;
    expect(token).toBe(`domain-events:${partition}:${[40, 50, 60][partition]}`);
    await app.close();
  });

  it('answers a batch, in full or minimal, with one token: the last offset per partition, partitions ascending', async () => {
    const { app, kafka } = ingestApp();
    const domains = Array.from({ length: 20 }, (_, i) => `d${i}.example`);
    for (const prefer of [undefined, 'return=minimal']) {
      const response = await app.inject({
        method: 'POST',
        url: '/events',
        headers: prefer ? { prefer } : {},
        payload: domains.map((domain) => ({ domain, type: 'delivered' })),
      });
      expect(response.statusCode).toBe(202);
      const token = String(response.headers['consistency-token']);
      expect(response.json()).toMatchObject({ consistencyToken: token });
      expect(token).toMatch(/^domain-events:0:\d+,1:\d+,2:\d+$/);
      const parsed = parseConsistencyToken(token);
      const batch = kafka.transactions.at(-1)!.requests.flat();
      const keys = batch.map((m) => String(m.key));
      expect(parsed.ok && parsed.token.offsets).toEqual(expectedOffsets(kafka, keys));
    }
    await app.close();
  });

  it('answers an empty batch without a token: it names no record', async () => {
    const { app } = ingestApp();
    const response = await app.inject({ method: 'POST', url: '/events', payload: [] });
    expect(response.statusCode).toBe(202);
    expect(response.headers['consistency-token']).toBeUndefined();
    expect(response.json()).toEqual({ accepted: 0, events: [] });
    await app.close();
  });

  it('declares the Consistency-Token header and body field of each 202 in the OpenAPI document', async () => {
    const { app } = ingestApp();
    await app.ready();
    const paths = (
      app.swagger() as unknown as {
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      }
    ).paths;
    for (const accepted of [
      paths['/events/{domain}/delivered']!.put!.responses['202'],
      paths['/events']!.post!.responses['202'],
    ]) {
      expect(accepted).toMatchObject({
        headers: { 'Consistency-Token': { schema: { type: 'string' } } },
        content: {
          'application/json': { schema: { properties: { consistencyToken: { type: 'string' } } } },
        },
      });
    }
    await app.close();
  });

  it('given tokens turned off (a benchmark), then answers carry none', async () => {
    const { app } = ingestApp(false);
    const response = await app.inject({ method: 'PUT', url: '/events/a.example/delivered' });
    expect(response.statusCode).toBe(202);
    expect(response.headers['consistency-token']).toBeUndefined();
    expect(response.json()).not.toHaveProperty('consistencyToken');
    await app.close();
  });
});
