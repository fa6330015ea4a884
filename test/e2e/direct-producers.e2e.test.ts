import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectorEnv, testInfra } from '../support/env';
import { createTestTopic, readAll, type TestTopic } from '../support/kafka';
import { createTestDatabase, readModelCounts, type TestDatabase } from '../support/postgres';
import { spawnService, type RunningService } from '../support/services';
import { waitFor } from '../support/wait';
import { testLogger } from '../support/logger';
import { createKafka, DEFAULT_CATCH_ALL_THRESHOLD } from '@catchall/core';
import { getVersion, rebuild, switchLive, type RebuildOptions } from '@catchall/consumer';
import { createEventDecoder } from '@catchall/schemas';

const ROOT = path.resolve(__dirname, '..', '..');
const logger = testLogger('rebuild');

interface Manifest {
  counts: Record<string, { delivered: number; bounced: number }>;
  deadLetters: { partition: number; offset: number; reason: string }[];
}

/** Runs the Python producer (confluent-kafka, installed by `npm test` into .local/python). */
async function produceFromPython(topic: string): Promise<Manifest> {
  const manifest = path.join(os.tmpdir(), `conformance-${topic}.json`);
  const { stdout } = await promisify(execFile)(
    'python3',
    [
      path.join(ROOT, 'test', 'conformance', 'direct_producer.py'),
      testInfra().brokers,
      testInfra().registryUrl,
      topic,
      path.join(ROOT, 'schemas', 'domain-event.avsc'),
      manifest,
    ],
    { env: { ...process.env, PYTHONPATH: path.join(ROOT, '.local', 'python') }, timeout: 120000 },
  );
  expect(stdout).toMatch(/events counted over \d+ domains/);
  return JSON.parse(readFileSync(manifest, 'utf8')) as Manifest;
}

const byPosition = (a: { partition: number; offset: number }, b: typeof a) =>
  a.partition - b.partition || a.offset - b.offset;

describe('a direct producer of another stack (librdkafka, through Python confluent-kafka)', () => {
  let topic: TestTopic;
  let db: TestDatabase;
  let consumer: RunningService;
  let manifest: Manifest;

  beforeAll(async () => {
    topic = await createTestTopic(4);
    db = await createTestDatabase();
    consumer = await spawnService('consumer', {
      ...projectorEnv(topic.name, db.url),
      SCHEMA_UNKNOWN_RETRY_MS: '1500',
      FLUSH_INTERVAL_MS: '100',
    });
  });

  afterAll(async () => {
    await consumer.stop();
    await db.drop();
    await topic.delete();
  });

  it('gets every record counted or dead-lettered once: each codec, transactions, schema variants, bad records, tries of one event on several partitions', async () => {
    manifest = await produceFromPython(topic.name);
    const expected = [...Object.entries(manifest.counts)].sort();
    const actual = async () => [...(await readModelCounts(db.pool))].sort();
    // Exactly the expected domains and counts: nothing of an aborted transaction, nothing twice.
    const settled = await waitFor(
      'the read model to hold what the producer says it must',
      async () => JSON.stringify(await actual()) === JSON.stringify(expected),
      { timeoutMs: 90000, intervalMs: 250 },
    ).then(
      () => true,
      () => false,
    );
    expect(await actual()).toEqual(expected);
    expect(settled).toBe(true);

    const letters = await waitFor('the dead letters', async () => {
      const records = await readAll(topic.dlq, 30000);
      return records.length >= manifest.deadLetters.length && records;
    });
    const header = (r: (typeof letters)[number], name: string) =>
      r.message.headers?.[name]?.toString() ?? '';
    const got = letters
      .map((r) => ({
        partition: Number(header(r, 'dlq-original-partition')),
        offset: Number(header(r, 'dlq-original-offset')),
        reason: header(r, 'dlq-reason'),
      }))
      .sort(byPosition);
    expect(got).toEqual([...manifest.deadLetters].sort(byPosition));
    expect(letters.every((r) => header(r, 'dlq-original-topic') === topic.name)).toBe(true);

    expect((await fetch(`${consumer.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${consumer.url}/readyz`);
    expect(ready.status).toBe(200);
    // No crash kafkajs gave up on, no stop (kafkajs restarts itself after a retriable one).
    expect(consumer.output()).not.toMatch(/"restart":false|projector stopped/);
  }, 180_000);

  it('rebuilds the same counts from the topic, and switches only when told to accept dead letters that may not last', async () => {
    const options = (overrides: Partial<RebuildOptions>): RebuildOptions => ({
      pool: db.pool,
      kafka: createKafka({ brokers: testInfra().brokers, clientId: 'rebuild-test', logger }),
      codec: createEventDecoder({
        registryUrl: testInfra().registryUrl,
        unknownSchemaRetryMs: 1500,
      }),
      topic: topic.name,
      consumerGroup: 'conformance-rebuild',
      threshold: DEFAULT_CATCH_ALL_THRESHOLD,
      acceptTruncated: false,
      fresh: true,
      switchWhenReady: true,
      switchLag: 0,
      flushIntervalMs: 100,
      maxPendingDomains: 10000,
      partitionsConsumedConcurrently: 4,
      sessionTimeoutMs: 10000,
      logger,
      progressIntervalMs: 200,
      ...overrides,
    });
    // The unknown schema id was dead-lettered: the registry may learn it, so no switch.
    const withheld = await rebuild(options({}));
    expect(withheld.outcome).toBe('ready');
    expect(withheld.transientDeadLetters).toEqual({ 'unknown-schema-id': 1 });
    // The version says what it left out; a switch by hand needs the same acceptance.
    expect((await getVersion(db.pool, withheld.version)).leftOut).toEqual({
      'unknown-schema-id': 1,
    });
    await expect(switchLive(db.pool, withheld.version)).rejects.toThrow(/may not last/);
    expect(await switchLive(db.pool, withheld.version, { acceptLeftOut: true })).toEqual({
      from: 1,
      to: withheld.version,
    });
    await switchLive(db.pool, 1);

    const switched = await rebuild(options({ acceptTransientDeadLetters: true }));
    expect(switched.outcome).toBe('switched');
    expect([...(await readModelCounts(db.pool))].sort()).toEqual(
      [...Object.entries(manifest.counts)].sort(),
    );
  }, 180_000);
});
