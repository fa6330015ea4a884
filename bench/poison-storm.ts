import pg from 'pg';
import type { Message } from 'kafkajs';
import { deadLetterTopic } from '@catchall/core';
import type { EventEncoder } from '@catchall/schemas';
import type { Infra } from '@catchall/scripts';
import { benchDatabases, benchKafka, createTopic, eventsTopic } from './lib/preload';
import { report } from './lib/report';
import { startService, withStack } from './lib/stack';

/**
 * A storm of bad records on one partition, then a valid record behind it: how long the
 * valid record waits (from Kafka's ack to its row in Postgres) and how fast the storm is
 * dead-lettered, next to the same number of valid records in front of it (the baseline:
 * what the projector takes to get through as many records it counts). The consumer group
 * must stay stable all along (no member evicted, no rebalance).
 */
const RECORDS = Number(process.env.BENCH_STORM_RECORDS ?? 50_000);
const TARGET_MS = 2000;

interface Scenario {
  name: string;
  records: (encoder: EventEncoder, i: number) => Message;
  /** Records of the storm (RECORDS when absent). */
  count?: number;
  /** Settings of the projector for this scenario. */
  env?: Record<string, string>;
}

/** Distinct schema ids the registry does not know, each asked of it (BENCH_STORM_UNKNOWN_IDS). */
const UNKNOWN_IDS = Number(process.env.BENCH_STORM_UNKNOWN_IDS ?? 10_000);
/** Their retry window here: the lookups are measured, not the window (30 s by default). */
const UNKNOWN_RETRY_MS = 1000;

/** A value in the wire format with schema id `id` and a one-byte body. */
function withSchemaId(id: number): Buffer {
  const value = Buffer.from([0, 0, 0, 0, 0, 2]);
  value.writeInt32BE(id, 1);
  return value;
}

const scenarios: Scenario[] = [
  {
    name: `${RECORDS} valid records, then the probe (baseline)`,
    records: (encoder, i) => ({
      key: 'storm.example',
      value: encoder.encode({
        eventId: `v${i}`,
        domain: `valid-${i % 1000}.example`,
        type: 'delivered',
        occurredAt: Date.now(),
        source: null,
        eventIdOrigin: 'ingest',
      }),
    }),
  },
  {
    name: `${RECORDS} records not in the wire format, then the probe`,
    records: (_encoder, i) => ({ key: 'storm.example', value: Buffer.from(`junk ${i}`) }),
  },
  {
    name: `${UNKNOWN_IDS} records with distinct schema ids the registry does not know, then the probe`,
    count: UNKNOWN_IDS,
    env: { SCHEMA_UNKNOWN_RETRY_MS: String(UNKNOWN_RETRY_MS) },
    records: (_encoder, i) => ({ key: 'storm.example', value: withSchemaId(1_000_000_000 + i) }),
  },
];

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return Date.now();
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function run(
  stack: Infra,
  databaseUrl: string,
  pool: pg.Pool,
  scenario: Scenario,
  n: number,
) {
  const topic = `storm-${n}`;
  const encoder = await eventsTopic(stack, topic, 1);
  await createTopic(stack.kafka.brokers, deadLetterTopic(topic), 1);
  const group = `projector-${topic}`;
  const consumer = await startService('consumer', {
    KAFKA_BROKERS: stack.kafka.brokers,
    SCHEMA_REGISTRY_URL: stack.registry.url,
    DATABASE_URL: databaseUrl,
    EVENTS_TOPIC: topic,
    CONSUMER_GROUP: group,
    MIGRATE_ON_START: 'false',
    ...scenario.env,
  });
  const kafka = benchKafka(stack.kafka.brokers);
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true });
  await Promise.all([admin.connect(), producer.connect()]);
  try {
    const before = (await admin.describeGroups([group])).groups[0]!;
    const members = new Set(before.members.map((m) => m.memberId));
    let unstable = 0;
    const watching = setInterval(() => {
      admin.describeGroups([group]).then(
        ({ groups: [g] }) => {
          const same =
            g!.members.length === members.size && g!.members.every((m) => members.has(m.memberId));
          if (g!.state !== 'Stable' || !same) unstable += 1;
        },
        // A group the broker cannot describe now (its coordinator moving) counts as unstable.
        () => {
          unstable += 1;
        },
      );
    }, 200);
    const t0 = Date.now();
    const count = scenario.count ?? RECORDS;
    for (let i = 0; i < count; i += 5000) {
      const messages = Array.from({ length: Math.min(5000, count - i) }, (_, j) =>
        scenario.records(encoder, i + j),
      );
      await producer.send({ topic, acks: -1, messages });
    }
    const probe = `probe-${n}.example`;
    await producer.send({
      topic,
      acks: -1,
      messages: [
        {
          key: 'storm.example',
          value: encoder.encode({
            eventId: 'p',
            domain: probe,
            type: 'delivered',
            occurredAt: Date.now(),
            source: null,
            eventIdOrigin: 'ingest',
          }),
        },
      ],
    });
    const acked = Date.now();
    const visible = await waitUntil(
      async () =>
        (await pool.query('SELECT 1 FROM domain_stats WHERE domain = $1', [probe])).rowCount === 1,
      120_000,
    );
    const dlqEnd = async () =>
      Number((await admin.fetchTopicOffsets(deadLetterTopic(topic)))[0]!.high);
    const dead = await dlqEnd();
    clearInterval(watching);
    return {
      scenario: scenario.name,
      'produce s': Number(((acked - t0) / 1000).toFixed(2)),
      'probe delay ms (ack to row)': visible - acked,
      'records through per s': Math.round(count / ((visible - t0) / 1000)),
      'dead letters': dead,
      'dead letters per s': dead > 0 ? Math.round(dead / ((visible - t0) / 1000)) : 0,
      'group unstable samples': unstable,
    };
  } finally {
    await Promise.all([admin.disconnect(), producer.disconnect()]);
    await consumer.stop();
  }
}

async function main(): Promise<void> {
  await withStack({}, async (stack, lifecycle) => {
    const { databaseUrl } = await benchDatabases(stack.postgres);
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    lifecycle.onClose('pool', () => pool.end());
    const rows: Record<string, unknown>[] = [];
    for (const [n, scenario] of scenarios.entries()) {
      rows.push(await run(stack, databaseUrl, pool, scenario, n));
    }
    const [baseline, storm, unknownIds] = rows as {
      'probe delay ms (ack to row)': number;
      'records through per s': number;
    }[];
    report('poison-storm', rows, [
      `Target: the probe behind ${RECORDS} bad records counted within ${TARGET_MS} ms of its ack, with the group stable: ` +
        `${storm!['probe delay ms (ack to row)']} ms (${storm!['probe delay ms (ack to row)'] < TARGET_MS ? 'met' : 'NOT met'}).`,
      `Bad records go through at ${(storm!['records through per s'] / baseline!['records through per s']).toFixed(2)}x ` +
        'the rate of the same number of valid records (baseline, same run).',
      `Distinct unknown schema ids (each asked of the registry, ${UNKNOWN_RETRY_MS} ms retry window): ` +
        `${unknownIds!['records through per s']} records/s, the probe behind ${UNKNOWN_IDS} of them after ` +
        `${unknownIds!['probe delay ms (ack to row)']} ms.`,
    ]);
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
