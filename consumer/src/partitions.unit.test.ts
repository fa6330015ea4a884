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
import { waitFor } from '../../test/support/wait';
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
    await waitFor('the partition to resume after its backoff', () => paused.length === 2);
    expect(paused).toEqual(['pause 0', 'resume 0']);
    expect(seeks).toEqual([0]);
    await partitions.close();
  });

  it('given a programmer error in a partition task, then it stops the projector (onFatal) instead of pausing, and runs no later task', async () => {
    const store = createInMemoryStore();
    const metrics = createConsumerMetrics(createMetricsRegistry('test'));
    const work = createPartitionWork({
      codec: jsonDecoder,
      store: () => store,
      deadLetters: createInMemoryDeadLetters(),
      seek: () => undefined,
      commitHint: () => Promise.resolve(),
      metrics,
      log: testLogger(),
    });
    const calls: string[] = [];
    const fatal: unknown[] = [];
    const partitions = createPartitions({
      topic: 'events',
      work,
      consumer: {
        pause: (p) => calls.push(`pause ${p ?? 'all'}`),
        resume: (p) => calls.push(`resume ${p ?? 'all'}`),
      },
      stallMs: 60000,
      metrics,
      log: testLogger(),
      onFatal: (err) => fatal.push(err),
    });
    const bug = new TypeError('x is not a function');
    await partitions.guarded(0, 'batch', () => Promise.reject(bug));
    expect(fatal).toEqual([bug]);
    expect(partitions.failure()).toBe(bug);
    // The whole consumer is paused, not one partition with backoff.
    expect(calls).toEqual(['pause all']);
    let ran = false;
    await partitions.guarded(1, 'batch', () => {
      ran = true;
      return Promise.resolve();
    });
    expect(ran).toBe(false);
    await partitions.close();
  });
});
