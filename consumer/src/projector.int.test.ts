import type { Registry } from 'prom-client';
import { testInfra, uniqueName } from '../../test/support/env';
import {
  encoderFor,
  expectedCounts,
  makeEvents,
  newerWriterSchema,
  produceMessages,
  publishEvents,
  toEvent,
} from '../../test/support/events';
import { createTestTopic, readAll, testKafka, type TestTopic } from '../../test/support/kafka';
import {
  createTestDatabase,
  readModelCounts,
  type TestDatabase,
} from '../../test/support/postgres';
import { createTcpProxy } from '../../test/support/tcp-proxy';
import { startTestProjector, type TestProjector } from '../../test/support/projector';
import { waitFor } from '../../test/support/wait';

const infra = testInfra();

async function metric(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((sum, v) => sum + Number(v.value), 0);
}

async function countsEqual(db: TestDatabase, expected: Map<string, unknown>): Promise<boolean> {
  const actual = await readModelCounts(db.pool);
  return JSON.stringify([...actual].sort()) === JSON.stringify([...expected].sort());
}

describe('the projector against real Kafka, registry and Postgres', () => {
  let topic: TestTopic;
  let db: TestDatabase;
  const running: TestProjector[] = [];

  beforeEach(async () => {
    topic = await createTestTopic(3);
    db = await createTestDatabase();
  });
  afterEach(async () => {
    for (const r of running.splice(0)) await r.stop();
    await db.drop();
    await topic.delete();
  });

  it('counts every record of every partition exactly once', async () => {
    const events = makeEvents(3000, 40, 'once');
    await publishEvents(topic.name, events);
    running.push(await startTestProjector(topic, db));
    const expected = expectedCounts(events);
    await waitFor('the read model to hold every event', () => countsEqual(db, expected));
  });

  it('given records already applied, when they are delivered again, then nothing is counted twice', async () => {
    const events = makeEvents(500, 10, 'twice');
    await publishEvents(topic.name, events);
    const first = await startTestProjector(topic, db);
    running.push(first);
    const expected = expectedCounts(events);
    await waitFor('the first pass', () => countsEqual(db, expected));
    await running.pop()!.stop();

    // A new group has no committed offsets in Kafka: it is handed every record again.
    const second = await startTestProjector(topic, db);
    running.push(second);
    await waitFor(
      'the second pass to skip every record',
      async () =>
        (await metric(second.registry, 'catchall_records_skipped_total')) === events.length,
    );
    await second.projector.flush();
    expect(await countsEqual(db, expected)).toBe(true);
  });

  it('counts an event whose id the client chose once however many records carry it, across a restart; ids the ingest API made are never looked up', async () => {
    const encoder = await encoderFor(topic.name);
    const events = makeEvents(300, 12, 'retried').map((e, i) => ({
      ...toEvent(e),
      eventId: `retry-${i}`,
    }));
    const record = (e: (typeof events)[number]) => ({ key: e.domain, value: encoder.encode(e) });
    // Every event once, then a third of them again, and a sixth a third time after a restart.
    await produceMessages(topic.name, events.map(record));
    await produceMessages(topic.name, events.filter((_, i) => i % 3 === 0).map(record));
    const ingestMade = makeEvents(60, 3, 'made').map((e) => ({
      ...toEvent(e),
      eventId: 'the-same-uuid',
      eventIdOrigin: 'ingest' as const,
    }));
    await produceMessages(topic.name, ingestMade.map(record));
    const expected = expectedCounts([...events, ...ingestMade]);
    running.push(await startTestProjector(topic, db));
    await waitFor('every event counted once', () => countsEqual(db, expected));
    await running.pop()!.stop();

    await produceMessages(topic.name, events.filter((_, i) => i % 6 === 0).map(record));
    const restarted = await startTestProjector(topic, db);
    running.push(restarted);
    await waitFor(
      'the retries after the restart to be read',
      async () => (await metric(restarted.registry, 'catchall_event_id_duplicates_total')) === 50,
    );
    await restarted.projector.flush();
    expect(await countsEqual(db, expected)).toBe(true);
  });

  it('resumes after a restart of the same group with the records published in between', async () => {
    const before = makeEvents(300, 7, 'resume');
    await publishEvents(topic.name, before);
    const group = uniqueName('group');
    running.push(await startTestProjector(topic, db, { groupId: group }));
    await waitFor('the first batch', () => countsEqual(db, expectedCounts(before)));
    await running.pop()!.stop();
    const after = makeEvents(200, 9, 'resume');
    await publishEvents(topic.name, after);
    running.push(await startTestProjector(topic, db, { groupId: group }));
    await waitFor('both batches', () => countsEqual(db, expectedCounts([...before, ...after])));
  });

  it('dead-letters records it can never apply, with the reason and origin, and moves on', async () => {
    const encoder = await encoderFor(topic.name);
    const good = toEvent({ domain: 'good.example', type: 'delivered' });
    const invalid = toEvent({ domain: 'not a domain!', type: 'delivered' });
    await produceMessages(topic.name, [
      { key: 'x', value: Buffer.from('not avro at all'), partition: 0 },
      { key: 'y', value: encoder.encode(invalid), partition: 0 },
      { key: good.domain, value: encoder.encode(good), partition: 0 },
    ]);
    const r = await startTestProjector(topic, db);
    running.push(r);
    await waitFor('the good event', async () =>
      (await readModelCounts(db.pool)).get('good.example'),
    );
    const dead = await readAll(topic.dlq);
    expect(dead).toHaveLength(2);
    const headers = dead.map((d) => ({
      reason: String(d.message.headers?.['dlq-reason']),
      topic: String(d.message.headers?.['dlq-original-topic']),
      partition: String(d.message.headers?.['dlq-original-partition']),
      offset: String(d.message.headers?.['dlq-original-offset']),
    }));
    expect(headers).toEqual([
      { reason: 'not-wire-format', topic: topic.name, partition: '0', offset: '0' },
      { reason: 'invalid-domain', topic: topic.name, partition: '0', offset: '1' },
    ]);
    expect(dead[0]!.message.value?.toString()).toBe('not avro at all');
    expect(await metric(r.registry, 'catchall_records_dead_lettered_total')).toBe(2);
    expect((await readModelCounts(db.pool)).size).toBe(1);
  });

  it('normalizes the domain of direct producers again before counting', async () => {
    const encoder = await encoderFor(topic.name);
    await produceMessages(topic.name, [
      {
        key: 'Example.COM.',
        value: encoder.encode(toEvent({ domain: 'Example.COM.', type: 'bounced' })),
      },
    ]);
    running.push(await startTestProjector(topic, db));
    await waitFor(
      'the normalized domain',
      async () => (await readModelCounts(db.pool)).get('example.com')?.bounced === 1,
    );
  });

  it('ignores an event type from a newer writer (read as unknown) without stalling', async () => {
    await encoderFor(topic.name);
    const newer = await encoderFor(topic.name, newerWriterSchema());
    await produceMessages(topic.name, [
      {
        key: 'a.example',
        value: newer.encode({
          ...toEvent({ domain: 'a.example', type: 'delivered' }),
          type: 'deferred' as never,
        }),
      },
      {
        key: 'a.example',
        value: newer.encode(toEvent({ domain: 'a.example', type: 'delivered' })),
      },
    ]);
    const r = await startTestProjector(topic, db);
    running.push(r);
    await waitFor('the known event', async () => (await readModelCounts(db.pool)).get('a.example'));
    expect((await readModelCounts(db.pool)).get('a.example')).toEqual({ delivered: 1, bounced: 0 });
    expect(await metric(r.registry, 'catchall_events_ignored_total')).toBe(1);
    expect(await readAll(topic.dlq)).toHaveLength(0);
  });

  it('commits its position to Kafka as a resume hint after Postgres', async () => {
    const events = makeEvents(90, 3, 'hint');
    await publishEvents(topic.name, events);
    const group = uniqueName('group');
    running.push(await startTestProjector(topic, db, { groupId: group }));
    await waitFor('the events', () => countsEqual(db, expectedCounts(events)));
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await waitFor('committed offsets to reach the end', async () => {
        const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic.name] });
        const committed = offsets!.partitions.reduce(
          (s, p) => s + Math.max(0, Number(p.offset)),
          0,
        );
        return committed === events.length;
      });
    } finally {
      await admin.disconnect();
    }
  });

  it('pauses while Postgres is unreachable, loses nothing, and resumes by itself', async () => {
    const target = new URL(db.url);
    const proxy = await createTcpProxy({ host: target.hostname, port: Number(target.port) });
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    try {
      const before = makeEvents(400, 20, 'pgdown');
      await publishEvents(topic.name, before);
      const r = await startTestProjector(topic, db, { databaseUrl: viaProxy.toString() });
      running.push(r);
      await waitFor('the events before the outage', () => countsEqual(db, expectedCounts(before)));

      await proxy.cut();
      const during = makeEvents(600, 30, 'pgdown');
      await publishEvents(topic.name, during);
      await waitFor(
        'the projector to notice',
        async () =>
          (await metric(r.registry, 'catchall_flush_failures_total')) > 0 ||
          (await metric(r.registry, 'catchall_projector_paused')) === 1,
      );
      await proxy.restore();
      await waitFor('every event, once', () =>
        countsEqual(db, expectedCounts([...before, ...during])),
      );
    } finally {
      await proxy.close();
    }
  });

  it('waits for a registry that is down instead of dead-lettering good records', async () => {
    const events = makeEvents(300, 10, 'regdown');
    await publishEvents(topic.name, events);
    const target = new URL(infra.registryUrl);
    const proxy = await createTcpProxy({ host: target.hostname, port: Number(target.port) });
    const viaProxy = new URL(infra.registryUrl);
    viaProxy.port = String(proxy.port);
    try {
      await proxy.cut();
      const r = await startTestProjector(topic, db, { registryUrl: viaProxy.toString() });
      running.push(r);
      await waitFor(
        'the projector to pause',
        async () => (await metric(r.registry, 'catchall_projector_paused')) === 1,
      );
      expect((await readModelCounts(db.pool)).size).toBe(0);
      await proxy.restore();
      await waitFor('every event, once', () => countsEqual(db, expectedCounts(events)));
      expect(await readAll(topic.dlq)).toHaveLength(0);
    } finally {
      await proxy.close();
    }
  });
});
