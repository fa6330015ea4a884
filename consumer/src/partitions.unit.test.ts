import { createMetricsRegistry } from '@catchall/core';
import type { EventDecoder } from '@catchall/schemas';
import {
  createInMemoryDeadLetters,
  createInMemoryStore,
  fetchedBatch,
  jsonDecoder,
  jsonRecord,
} from '../../test/support/in-memory-ports';
import { testLogger } from '../../test/support/logger';
import { createConsumerMetrics } from './metrics';
import { createPartitionWork } from './partition-work';
import { createPartitions } from './partitions';

/** A registry that does not answer once, then does: a retriable failure of one lookup. */
function registryDownOnce(): EventDecoder & { release: () => void } {
  let fail: ((err: Error) => void) | undefined;
  let down = true;
  return {
    decodeKnown: (value) => (down ? undefined : jsonDecoder.decodeKnown(value)),
    decode(value) {
      if (!down) return jsonDecoder.decode(value);
      return new Promise((_, reject) => {
        fail = reject;
      });
    },
    release() {
      down = false;
      fail?.(Object.assign(new Error('no answer within 5000 ms'), { retriable: true }));
    },
  };
}

describe('partition supervision', () => {
  it('given a batch failing while the partition end is read, when the partition recovers, then it seeks back to the stored position', async () => {
    const store = createInMemoryStore();
    const codec = registryDownOnce();
    const seeks: number[] = [];
    const metrics = createConsumerMetrics(createMetricsRegistry('test'));
    const work = createPartitionWork({
      codec,
      store: () => store,
      deadLetters: createInMemoryDeadLetters(),
      seek: (_partition, offset) => seeks.push(offset),
      commitHint: () => Promise.resolve(),
      metrics,
      log: testLogger(),
    });
    const paused: string[] = [];
    const partitions = createPartitions({
      topic: 'events',
      work,
      consumer: {
        pause: (p) => paused.push(`pause ${p}`),
        resume: (p) => paused.push(`resume ${p}`),
      },
      stallMs: 60000,
      metrics,
      log: testLogger(),
    });
    partitions.assigned([0]);
    const control = { isStale: () => false, heartbeat: () => Promise.resolve() };

    // The batch waits on the registry; reading the end is queued behind it meanwhile.
    const batch = partitions.guarded(0, 'batch', (s) =>
      work.applyBatch(s, fetchedBatch(0, [jsonRecord(0, { domain: 'a.example' })]), control),
    );
    const ends = partitions.observeEnds(new Map([[0, 1]]));
    await new Promise((r) => setImmediate(r));
    codec.release();
    await Promise.all([batch, ends]);
    expect(paused).toEqual(['pause 0']);

    // kafkajs resolved the failed batch (the failure was handled): only a seek fetches it again.
    await new Promise((r) => setTimeout(r, 400));
    expect(paused).toEqual(['pause 0', 'resume 0']);
    expect(seeks).toEqual([0]);
    await partitions.close();
  });
});
