import { Kafka, logLevel, type Message } from 'kafkajs';
import pg from 'pg';
import {
  DEFAULT_CATCH_ALL_THRESHOLD,
  evolve,
  normalizeDomain,
  type DomainDelta,
} from '@catchall/core';
import { createProjectionStore } from '@catchall/consumer';
import { migrate } from '@catchall/consumer';
import {
  createEventEncoder,
  domainEventSchema,
  registerSchema,
  valueSubject,
  type EventEncoder,
  type EventIdOrigin,
} from '@catchall/schemas';
import pino from 'pino';
import { events, type Workload } from './workloads';

export function benchKafka(brokers: string): Kafka {
  return new Kafka({ brokers: [brokers], clientId: 'bench', logLevel: logLevel.NOTHING });
}

export async function createTopic(brokers: string, topic: string, partitions: number) {
  const admin = benchKafka(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: partitions }],
    });
  } finally {
    await admin.disconnect();
  }
}

/** An events topic of the benchmark's own with the contract registered: its encoder. */
export async function eventsTopic(
  stack: { kafka: { brokers: string }; registry: { url: string } },
  topic: string,
  partitions: number,
): Promise<EventEncoder> {
  await createTopic(stack.kafka.brokers, topic, partitions);
  const schemaId = await registerSchema({
    registryUrl: stack.registry.url,
    subject: valueSubject(topic),
    schema: domainEventSchema,
    compatibility: 'BACKWARD',
  });
  return createEventEncoder({ registryUrl: stack.registry.url, schemaId });
}

/**
 * Appends `count` events of a workload to the topic as fast as kafkajs goes; events/s. Their
 * ids are unique, marked as the ingest API's own (`origin` `ingest`, never looked up) or as
 * the client's (`client`: each is then checked and remembered by the projector).
 */
export async function preload(
  brokers: string,
  topic: string,
  workload: Workload,
  count: number,
  encoder: EventEncoder,
  origin: EventIdOrigin = 'ingest',
): Promise<number> {
  const producer = benchKafka(brokers).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const t0 = Date.now();
  let batch: Message[] = [];
  const inFlight = new Set<Promise<unknown>>();
  let n = 0;
  for (const [domain, type] of events(workload, count)) {
    const key = normalizeDomain(domain);
    batch.push({
      key: key.ok ? key.domain : domain,
      value: encoder.encode({
        eventId: `e${(n += 1)}`,
        domain,
        type,
        occurredAt: t0 + n,
        source: null,
        eventIdOrigin: origin,
      }),
    });
    if (batch.length === 10000) {
      const sending = producer.send({ topic, acks: -1, messages: batch });
      inFlight.add(sending);
      void sending.finally(() => inFlight.delete(sending));
      batch = [];
      if (inFlight.size >= 4) await Promise.race(inFlight);
    }
  }
  if (batch.length > 0) await producer.send({ topic, acks: -1, messages: batch });
  await Promise.all(inFlight);
  await producer.disconnect();
  return Math.round(count / ((Date.now() - t0) / 1000));
}

/** Connections (and concurrent flushes) of the Postgres ceiling. */
const LANES = 4;

/**
 * The Postgres ceiling: the projector's own upsert, fed folded deltas (100,000 events a
 * flush) from memory by four lanes, as fast as Postgres takes them: events/s, and the rows
 * (domains after folding) each connection upserted per second. Deltas are folded lazily,
 * between flushes, so that 10,000,000 domains fit in memory.
 */
export async function postgresCeiling(
  databaseUrl: string,
  workload: Workload,
  count: number,
): Promise<{ eventsPerSecond: number; rowsPerSecondPerConnection: number }> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: LANES });
  const store = createProjectionStore({
    pool,
    version: 1,
    threshold: DEFAULT_CATCH_ALL_THRESHOLD,
    synchronousCommit: false,
  });
  const source = events(workload, count);
  let n = 0;
  let rows = 0;
  const nextChunk = (): Map<string, DomainDelta> | undefined => {
    const chunk = new Map<string, DomainDelta>();
    for (let i = 0; i < 100_000; i += 1) {
      const next = source.next();
      if (next.done) break;
      const [domain, type] = next.value;
      const d = normalizeDomain(domain);
      if (!d.ok) continue;
      chunk.set(d.domain, evolve(chunk.get(d.domain), { type, occurredAt: (n += 1) }));
    }
    rows += chunk.size;
    return chunk.size > 0 ? chunk : undefined;
  };
  const t0 = Date.now();
  const lanes = Array.from({ length: LANES }, async (_, lane) => {
    let position = 0;
    for (let chunk = nextChunk(); chunk; chunk = nextChunk()) {
      await store.flush({
        topic: `ceiling-${workload}`,
        partition: lane,
        expected: position === 0 ? null : position,
        next: position + 1,
        deltas: chunk,
      });
      position += 1;
    }
  });
  await Promise.all(lanes);
  const seconds = (Date.now() - t0) / 1000;
  await pool.end();
  return {
    eventsPerSecond: Math.round(count / seconds),
    rowsPerSecondPerConnection: Math.round(rows / seconds / LANES),
  };
}

/**
 * The two databases of a benchmark, migrated: one for the service under test, one for the
 * Postgres ceiling.
 */
export async function benchDatabases(postgres: {
  createDatabase(name: string): Promise<void>;
  urlFor(name: string): string;
}): Promise<{ databaseUrl: string; ceilingUrl: string }> {
  const silent = pino({ level: 'silent' });
  const urls = { databaseUrl: 'bench', ceilingUrl: 'bench_ceiling' };
  for (const name of Object.values(urls)) {
    await postgres.createDatabase(name);
    await migrate({ databaseUrl: postgres.urlFor(name), logger: silent });
  }
  return {
    databaseUrl: postgres.urlFor(urls.databaseUrl),
    ceilingUrl: postgres.urlFor(urls.ceilingUrl),
  };
}
