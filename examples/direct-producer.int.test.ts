import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { createEventDecoder } from '@catchall/schemas';
import { testInfra } from '../test/support/env';
import { encoderFor } from '../test/support/events';
import { createTestTopic, readAll, type TestTopic } from '../test/support/kafka';
import { publishDirect } from './direct-producer';

const infra = testInfra();

describe('the direct producer example', () => {
  let topic: TestTopic;
  beforeAll(async () => {
    topic = await createTestTopic(6);
    await encoderFor(topic.name);
  });
  afterAll(async () => {
    await topic.delete();
  });

  it('appends decodable events keyed by domain, on the partition murmur2 gives the key', async () => {
    const domains = ['a.example', 'b.example', 'c.example', 'xn--bcher-kva.de'];
    await publishDirect({
      brokers: [infra.brokers],
      registryUrl: infra.registryUrl,
      topic: topic.name,
      events: domains.map((domain) => ({ domain, type: 'delivered' as const })),
    });
    const records = await readAll(topic.name);
    expect(records).toHaveLength(domains.length);
    const decoder = createEventDecoder({ registryUrl: infra.registryUrl });
    // kafkajs's partitioner factory (its typings describe it as the partitioner itself).
    const createPartitioner = Partitioners.DefaultPartitioner as unknown as () => (
      args: PartitionerArgs,
    ) => number;
    const partitioner = createPartitioner();
    for (const record of records) {
      const event = await decoder.decode(record.message.value);
      expect(record.message.key?.toString()).toBe(event.domain);
      const expected = partitioner({
        topic: topic.name,
        partitionMetadata: Array.from({ length: 6 }, (_, p) => ({
          partitionId: p,
          leader: 1,
          partitionErrorCode: 0,
          replicas: [1],
          isr: [1],
        })),
        message: { key: event.domain, value: null },
      });
      expect(record.partition).toBe(expected);
    }
    expect(records.map((r) => r.message.key?.toString()).sort()).toEqual([...domains].sort());
  });
});
