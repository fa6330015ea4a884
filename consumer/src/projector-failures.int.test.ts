import { CompressionCodecs, CompressionTypes, ConfigResourceTypes } from 'kafkajs';
import { createIdempotentProducer, PostgresFailure } from '@catchall/core';
import {
  encoderFor,
  expectedCounts,
  makeEvents,
  produceMessages,
  toEvent,
} from '../../test/support/events';
import {
  createTestTopic,
  readAll,
  testKafka,
  testTransactionalProducer,
  type TestTopic,
} from '../../test/support/kafka';
import {
  createTestDatabase,
  readModelCounts,
  type TestDatabase,
} from '../../test/support/postgres';
import { partitionGauge, startTestProjector } from '../../test/support/projector';
import { waitFor } from '../../test/support/wait';

/** What these tests watch for: a stall within a second, two partitions at a time. */
const failing = { partitionStallMs: 1000, partitionsConsumedConcurrently: 2 };

async function publish(topic: string, domains: string[], compression?: CompressionTypes) {
  const encoder = await encoderFor(topic);
  const producer = createIdempotentProducer(testKafka());
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      compression,
      messages: domains.map((domain) => ({
        key: domain,
        value: encoder.encode(toEvent({ domain, type: 'delivered' })),
      })),
    });
  } finally {
    await producer.disconnect();
  }
}

describe('the projector when the store or the consumer fails', () => {
  let topic: TestTopic;
  let db: TestDatabase;
  const stops: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    topic = await createTestTopic(2);
    db = await createTestDatabase();
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    await db.drop();
    await topic.delete();
  });

  it('dead-letters the record Postgres refuses (a CHECK constraint) and counts the others of its flush', async () => {
    await db.pool.query(
      "ALTER TABLE domain_stats ADD CONSTRAINT no_refused CHECK (domain <> 'refused.example')",
    );
    const domains = ['a.example', 'b.example', 'refused.example', 'a.example', 'c.example'];
    await publish(topic.name, domains);
    const running = await startTestProjector(topic, db, failing);
    stops.push(() => running.stop());

    const expected = expectedCounts(
      domains
        .filter((d) => d !== 'refused.example')
        .map((domain) => ({ domain, type: 'delivered' })),
    );
    await waitFor('the other records to be counted', async () => {
      const counts = await readModelCounts(db.pool);
      return JSON.stringify([...counts].sort()) === JSON.stringify([...expected].sort());
    });
    const letters = await readAll(topic.dlq);
    expect(letters).toHaveLength(1);
    expect(letters[0]!.message.headers?.['dlq-reason']?.toString()).toBe('store-refused');
    expect(letters[0]!.message.headers?.['dlq-detail']?.toString()).toMatch(/23514/);
    expect(running.fatal).toEqual([]);
  });

  it('dead-letters a record too large for the dead-letter topic without its body, instead of stopping', async () => {
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: topic.dlq,
            configEntries: [{ name: 'max.message.bytes', value: '3000' }],
          },
        ],
      });
    } finally {
      await admin.disconnect();
    }
    await produceMessages(topic.name, [
      { key: 'big', partition: 0, value: Buffer.alloc(5000, 'x') },
      // With a header named like one the projector writes: its dead letter drops it.
      {
        key: 'small',
        partition: 0,
        value: Buffer.from('not Avro either'),
        headers: { 'dlq-original-bytes': '7', 'dlq-reason': 'mine', trace: 'kept' },
      },
    ]);
    await publish(topic.name, ['a.example']);
    const running = await startTestProjector(topic, db, failing);
    stops.push(() => running.stop());
    await waitFor('the event to be counted', async () =>
      (await readModelCounts(db.pool)).has('a.example'),
    );
    const letters = await waitFor('both dead letters', async () => {
      const read = await readAll(topic.dlq);
      return read.length === 2 && read;
    });
    const byKey = (key: string) =>
      letters.find((l) => l.message.headers?.['dlq-original-offset']?.toString() === key)!;
    // The large one without its body, saying its size; the small one whole.
    expect(byKey('0').message.value).toBeNull();
    expect(byKey('0').message.headers?.['dlq-original-bytes']?.toString()).toBe('5003');
    expect(byKey('0').message.headers?.['dlq-reason']?.toString()).toBe('not-wire-format');
    expect(byKey('1').message.value?.toString()).toBe('not Avro either');
    expect(byKey('1').message.headers?.['dlq-original-bytes']).toBeUndefined();
    expect(byKey('1').message.headers?.['dlq-reason']?.toString()).toBe('not-wire-format');
    expect(byKey('1').message.headers?.trace?.toString()).toBe('kept');
    expect(running.fatal).toEqual([]);
  });

  it('goes on, with no unhandled error, when Postgres terminates its connections again and again', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const running = await startTestProjector(topic, db, failing);
      stops.push(() => running.stop());
      const domains: string[] = [];
      for (let round = 0; round < 10; round += 1) {
        const batch = Array.from({ length: 50 }, (_, i) => `d${i % 17}.r${round}.example`);
        domains.push(...batch);
        await publish(topic.name, batch);
        // Every backend of the projector's pool, in a query or idle in its transaction.
        await db.pool.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'projector-test'",
        );
      }
      const expected = expectedCounts(domains.map((domain) => ({ domain, type: 'delivered' })));
      await waitFor(
        'every event to be counted once',
        async () => {
          const counts = await readModelCounts(db.pool);
          return JSON.stringify([...counts].sort()) === JSON.stringify([...expected].sort());
        },
        { timeoutMs: 60000 },
      );
      expect(uncaught).toEqual([]);
      expect(running.fatal).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('stops for good, and says so, when Postgres fails in a way retrying cannot mend', async () => {
    await publish(topic.name, ['a.example']);
    await db.pool.query('ALTER TABLE domain_stats RENAME COLUMN bounced TO bounced_renamed');
    const running = await startTestProjector(topic, db, failing);
    stops.push(() => running.stop());
    const [err] = await waitFor(
      'the projector to stop',
      () => running.fatal.length > 0 && running.fatal,
    );
    expect(err).toBeInstanceOf(PostgresFailure);
    expect((err as PostgresFailure).sqlState).toBe('42703');
    expect(running.projector.failure()).toBe(err);
  });

  it('reports a partition that has records and does not move as stalled, with the offset it waits on', async () => {
    await publish(topic.name, ['a.example', 'b.example', 'c.example', 'd.example']);
    const running = await startTestProjector(topic, db, {
      ...failing,
      wrap: (store) => ({
        ...store,
        version: store.version,
        flush: () =>
          Promise.reject(new PostgresFailure('unavailable', '08006', new Error('connection lost'))),
      }),
    });
    stops.push(() => running.stop());
    const stalled = await waitFor(
      'a stalled partition',
      () => running.projector.stalled().length > 0 && running.projector.stalled(),
      { timeoutMs: 20000 },
    );
    expect(stalled[0]).toMatchObject({ offset: 0 });
    expect(stalled[0]!.lag).toBeGreaterThan(0);
    expect(stalled[0]!.forMs).toBeGreaterThan(1000);

    // Held by its backoff, nothing committed: the lag still follows the broker's end, and the
    // freshness gauge counts how long the records have waited.
    const gauges = async () => {
      const lag = (await running.registry.getSingleMetric('catchall_consumer_lag')!.get()).values;
      const freshness = (
        await running.registry.getSingleMetric('catchall_freshness_seconds')!.get()
      ).values[0]!.value;
      return { lag: lag.reduce((sum, v) => sum + v.value, 0), freshness };
    };
    const before = await waitFor('the lag of the 4 records', async () => {
      const g = await gauges();
      return g.lag === 4 && g;
    });
    expect(before.freshness).toBeGreaterThan(0);
    await publish(topic.name, ['e.example', 'f.example', 'g.example']);
    const after = await waitFor(
      'the lag to grow by the 3 records published while paused',
      async () => {
        const g = await gauges();
        return g.lag === 7 && g;
      },
      { timeoutMs: 20000 },
    );
    expect(after.freshness).toBeGreaterThan(before.freshness);
    expect(running.fatal).toEqual([]);
  });

  it('reports a partition held back by a transaction a producer left open as stalled, and counts its records once the transaction commits', async () => {
    const encoder = await encoderFor(topic.name);
    const record = (domain: string, partition: number) => ({
      key: domain,
      partition,
      value: encoder.encode(toEvent({ domain, type: 'delivered' })),
    });
    const transactional = testTransactionalProducer();
    const plain = createIdempotentProducer(testKafka());
    await Promise.all([transactional.connect(), plain.connect()]);
    try {
      // Opened before the projector starts: it never fetches a record of partition 0.
      const open = await transactional.transaction();
      await open.send({ topic: topic.name, acks: -1, messages: [record('open.example', 0)] });
      await plain.send({
        topic: topic.name,
        acks: -1,
        messages: [record('behind.example', 0), record('free.example', 1)],
      });
      const running = await startTestProjector(topic, db, failing);
      stops.push(() => running.stop());

      await waitFor('the other partition to be counted', async () =>
        (await readModelCounts(db.pool)).has('free.example'),
      );
      const stalled = await waitFor(
        'partition 0 to be reported stalled',
        () => running.projector.stalled().find((p) => p.partition === 0),
        { timeoutMs: 20000 },
      );
      expect(stalled).toMatchObject({ partition: 0, offset: 0, lag: 2 });
      expect(running.projector.stalled().map((p) => p.partition)).toEqual([0]);
      expect(await readModelCounts(db.pool)).toEqual(
        new Map([['free.example', { delivered: 1, bounced: 0 }]]),
      );

      await open.commit();
      await waitFor('the records behind the transaction to be counted', async () => {
        const counts = await readModelCounts(db.pool);
        return counts.size === 3;
      });
      await waitFor('the stall to clear', () => running.projector.stalled().length === 0);
      expect(await readModelCounts(db.pool)).toEqual(
        new Map([
          ['behind.example', { delivered: 1, bounced: 0 }],
          ['free.example', { delivered: 1, bounced: 0 }],
          ['open.example', { delivered: 1, bounced: 0 }],
        ]),
      );
      expect(running.fatal).toEqual([]);
    } finally {
      await Promise.all([transactional.disconnect(), plain.disconnect()]);
    }
  });

  it('moves its positions past transaction markers and aborted records at the end of a partition: caught up, not stalled', async () => {
    const encoder = await encoderFor(topic.name);
    const record = (domain: string, type: 'delivered' | 'bounced') => ({
      key: domain,
      value: encoder.encode(toEvent({ domain, type })),
    });
    const running = await startTestProjector(topic, db, failing);
    stops.push(() => running.stop());
    const producer = testTransactionalProducer();
    const admin = testKafka().admin();
    await Promise.all([producer.connect(), admin.connect()]);
    try {
      const positionsAtEnd = async () => {
        const end = (await admin.fetchTopicOffsets(topic.name)).reduce(
          (n, o) => n + Number(o.high),
          0,
        );
        const { rows } = await db.pool.query<{ n: string }>(
          'SELECT coalesce(sum(next_offset), 0)::text AS n FROM projection_positions',
        );
        return Number(rows[0]!.n) === end;
      };
      const committed = await producer.transaction();
      await committed.send({
        topic: topic.name,
        acks: -1,
        messages: [record('a.example', 'delivered')],
      });
      await committed.commit();
      await waitFor('the committed transaction to be applied, its marker included', positionsAtEnd);
      // Then a fetch that holds only an aborted record and its marker: the consumer filters
      // both out and kafkajs does not hand the batch to eachBatch.
      const aborted = await producer.transaction();
      await aborted.send({
        topic: topic.name,
        acks: -1,
        messages: [record('a.example', 'bounced')],
      });
      await aborted.abort();
      await waitFor('the positions to pass the aborted transaction', positionsAtEnd);
    } finally {
      await Promise.all([producer.disconnect(), admin.disconnect()]);
    }
    expect(running.projector.stalled()).toEqual([]);
    expect((await readModelCounts(db.pool)).get('a.example')).toEqual({ delivered: 1, bounced: 0 });
  });

  it('moves past an aborted transaction that is all a new projector fetches of a partition: caught up, not stalled', async () => {
    const encoder = await encoderFor(topic.name);
    const producer = testTransactionalProducer();
    const admin = testKafka().admin();
    await Promise.all([producer.connect(), admin.connect()]);
    try {
      // Before any projector runs: partition 0 holds three aborted records and their marker.
      const aborted = await producer.transaction();
      await aborted.send({
        topic: topic.name,
        acks: -1,
        messages: ['a.example', 'b.example', 'c.example'].map((domain) => ({
          key: domain,
          partition: 0,
          value: encoder.encode(toEvent({ domain, type: 'delivered' })),
        })),
      });
      await aborted.abort();
      // The coordinator writes the abort marker after abort() returns: the partition's end
      // (its last stable offset) passes the marker once it is written.
      const end = 4;
      await waitFor('the abort marker to be written', async () => {
        const offsets = await admin.fetchTopicOffsets(topic.name);
        return Number(offsets.find((o) => o.partition === 0)!.high) === end;
      });

      const running = await startTestProjector(topic, db, failing);
      stops.push(() => running.stop());
      await waitFor('the position of partition 0 to pass the aborted transaction', async () => {
        const { rows } = await db.pool.query<{ next: string }>(
          'SELECT next_offset::text AS next FROM projection_positions WHERE partition = 0',
        );
        return rows[0]?.next === String(end);
      });
      // Stalled means lag that does not shrink: once the broker's end (read by the projector
      // itself) shows no lag and a stall check has run, nothing is left to report.
      await waitFor(
        'the projector to see no lag on partition 0, and to check for stalls',
        async () =>
          (await partitionGauge(running, 'catchall_consumer_lag', 0)) === 0 &&
          (await partitionGauge(running, 'catchall_partition_stalled', 0)) === 0,
      );
      expect(running.projector.stalled()).toEqual([]);
      expect(await readModelCounts(db.pool)).toEqual(new Map());
    } finally {
      await Promise.all([producer.disconnect(), admin.disconnect()]);
    }
  });

  it('replaces a consumer that kafkajs gives up on, also while a partition is paused, and loses nothing', async () => {
    // A store that fails (retriably) at first: the partitions pause with backoff.
    let failures = 3;
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    const snappy = CompressionCodecs[CompressionTypes.Snappy];
    try {
      const plain = makeEvents(100, 20, 'plain');
      const compressed = makeEvents(100, 20, 'snappy');
      const events = [...plain, ...compressed];
      await publish(
        topic.name,
        plain.map((e) => e.domain),
      );
      await publish(
        topic.name,
        compressed.map((e) => e.domain),
        CompressionTypes.Snappy,
      );
      // Until it is restored, fetching a snappy batch fails as kafkajs without the codec did:
      // KafkaJSNotImplemented, a crash kafkajs does not restart from.
      let crashes = 0;
      CompressionCodecs[CompressionTypes.Snappy] = () => {
        crashes += 1;
        throw Object.assign(new Error('Snappy compression not implemented'), {
          name: 'KafkaJSNotImplemented',
          retriable: false,
        });
      };
      const running = await startTestProjector(topic, db, {
        ...failing,
        wrap: (store) => ({
          ...store,
          version: store.version,
          flush: (flush) =>
            failures-- > 0
              ? Promise.reject(
                  new PostgresFailure('unavailable', '57P01', new Error('terminating')),
                )
              : store.flush(flush),
        }),
      });
      stops.push(() => running.stop());
      await waitFor('the consumer to crash on a snappy batch', () => crashes > 0, {
        timeoutMs: 30000,
      });
      CompressionCodecs[CompressionTypes.Snappy] = snappy;
      const expected = expectedCounts(events.map((e) => ({ domain: e.domain, type: 'delivered' })));
      await waitFor(
        'every event to be counted by the replacement consumer',
        async () => {
          const counts = await readModelCounts(db.pool);
          return JSON.stringify([...counts].sort()) === JSON.stringify([...expected].sort());
        },
        { timeoutMs: 60000 },
      );
      expect(running.projector.isMember()).toBe(true);
      expect(running.fatal).toEqual([]);
      expect(uncaught).toEqual([]);
    } finally {
      CompressionCodecs[CompressionTypes.Snappy] = snappy;
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
    }
  });
});
