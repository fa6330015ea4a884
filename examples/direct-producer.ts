/**
 * A service publishing delivery outcomes straight to Kafka, without the ingest API: what the
 * README's "Direct producers" section describes, using only kafkajs and the registry client.
 *
 *   node examples/dist/direct-producer.js <domain> <delivered|bounced>
 *     (KAFKA_BROKERS, SCHEMA_REGISTRY_URL and EVENTS_TOPIC as for the services)
 */
import { randomUUID } from 'node:crypto';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Kafka, Partitioners, logLevel } from 'kafkajs';

export interface DirectEvent {
  /** Normalize first (lower-case, punycode, no trailing dot): it is the record key. */
  domain: string;
  type: 'delivered' | 'bounced';
  occurredAt?: number;
  source?: string;
}

export async function publishDirect(options: {
  brokers: string[];
  registryUrl: string;
  topic: string;
  events: DirectEvent[];
}): Promise<void> {
  // The writer schema is registered under the topic's subject (TopicNameStrategy).
  const registry = new SchemaRegistry({ host: options.registryUrl });
  const schemaId = await registry.getLatestSchemaId(`${options.topic}-value`);
  const kafka = new Kafka({
    brokers: options.brokers,
    clientId: 'direct-producer',
    logLevel: logLevel.WARN,
  });
  // Idempotent, acks=all, and the Java client's murmur2 partitioner: a domain lands on the
  // partition the ingest API and Java producers use. librdkafka clients need
  // partitioner=murmur2_random for the same.
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    const messages = await Promise.all(
      options.events.map(async (e) => ({
        key: e.domain,
        // Confluent wire format: magic byte 0, schema id, Avro body.
        value: await registry.encode(schemaId, {
          eventId: randomUUID(),
          domain: e.domain,
          type: e.type,
          occurredAt: e.occurredAt ?? Date.now(),
          source: e.source ?? 'direct-producer',
        }),
      })),
    );
    await producer.send({ topic: options.topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

if (require.main === module) {
  const [domain, type] = process.argv.slice(2);
  if (!domain || (type !== 'delivered' && type !== 'bounced')) {
    console.error('usage: direct-producer <domain> <delivered|bounced>');
    process.exit(2);
  }
  const env = process.env;
  publishDirect({
    brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    registryUrl: env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
    topic: env.EVENTS_TOPIC ?? 'domain-events',
    events: [{ domain, type }],
  }).then(
    () => console.log(`published ${type} for ${domain}`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
