import type { KafkaMessage } from 'kafkajs';
import { PostgresFailure, createMetricsRegistry } from '@catchall/core';
import type { EventDecoder } from '@catchall/schemas';
import {
  createInMemoryDeadLetters,
  createInMemoryStore,
  fetchedBatch,
  jsonDecoder,
  jsonRecord,
  type InMemoryStore,
  inMemoryPartitionWork,
  eventRecords,
} from '../../test/support/in-memory-ports';
import { testLogger } from '../../test/support/logger';
import { waitFor } from '../../test/support/wait';
import { createConsumerMetrics } from './metrics';
import { createPartitionWork, type BatchControl } from './partition-work';
import { createPartitions, GroupError } from './partitions';

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

/**
 * Supervision over partition work on `store`, recording the consumer's pauses and resumes
 * (`pause 0`, `pause all`) and the failures that stopped the projector.
 */
function supervised(store: InMemoryStore) {
  const { work, metrics } = inMemoryPartitionWork(store);
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
  return { partitions, calls, fatal, work, metrics };
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
    metrics.watch(partitions);
    const pausedGauge = async () => (await metrics.paused.get()).values[0]!.value;
    const control = { isStale: () => false, heartbeat: () => Promise.resolve() };
    expect(await pausedGauge()).toBe(0);

    // The batch waits on the registry; reading the end is queued behind it meanwhile.
    const batch = partitions.guarded(0, 'batch', (s) =>
      work.applyBatch(s, fetchedBatch(0, [jsonRecord(0, { domain: 'a.example' })]), control),
    );
    const ends = partitions.observeEnds(new Map([[0, 1]]));
    await new Promise((r) => setImmediate(r));
    codec.release();
    await Promise.all([batch, ends]);
    expect(paused).toEqual(['pause 0']);
    // One partition waiting to retry, no other: the gauge says so (it read 0 here before).
    expect(await pausedGauge()).toBe(1);

    // kafkajs resolved the failed batch (the failure was handled): only a seek fetches it again.
    await waitFor('the partition to resume after its backoff', () => paused.length === 2);
    expect(paused).toEqual(['pause 0', 'resume 0']);
    expect(seeks).toEqual([0]);
    expect(await pausedGauge()).toBe(0);
    await partitions.close();
  });

  it('given a paused partition whose recovery fails in a way retrying cannot mend, then it stops the projector instead of retrying for good, and does not resume', async () => {
    const store = createInMemoryStore();
    const { partitions, calls, fatal } = supervised(store);
    partitions.assigned([0]);
    // The recovery reads the stored position: the table is gone (SQLSTATE 42P01).
    const missing = new PostgresFailure('failed', '42P01', new Error('relation does not exist'));
    jest.spyOn(store, 'loadPosition').mockRejectedValue(missing);
    const down = new PostgresFailure('unavailable', undefined, new Error('connection lost'));
    await partitions.guarded(0, 'flush', () => Promise.reject(down));
    expect(calls).toEqual(['pause 0']);
    await waitFor('the projector to stop', () => fatal.length > 0);
    expect(fatal).toEqual([missing]);
    expect(partitions.failure()).toBe(missing);
    expect(calls).toEqual(['pause 0', 'pause all']);
    await partitions.close();
  });

  it('given a programmer error in a partition task, then it stops the projector (onFatal) instead of pausing, and runs no later task', async () => {
    const { partitions, calls, fatal } = supervised(createInMemoryStore());
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

/**
 * One member of the consumer group over a shared in-memory store: its partition work and
 * supervision, with the seeks it asks of its consumer and the batch control kafkajs gives.
 */
function member(store: InMemoryStore, deadLetters = createInMemoryDeadLetters()) {
  const { work, seeks, metrics } = inMemoryPartitionWork(store, deadLetters);
  const partitions = createPartitions({
    topic: 'events',
    work,
    consumer: { pause: () => undefined, resume: () => undefined },
    stallMs: 60000,
    metrics,
    log: testLogger(),
  });
  const live = { isStale: () => false, heartbeat: () => Promise.resolve() };
  const apply = (records: KafkaMessage[], control: BatchControl = live) =>
    partitions.guarded(0, 'batch', (s) => work.applyBatch(s, fetchedBatch(0, records), control));
  const flush = () => partitions.each('flush', (s) => work.flush(s));
  return { partitions, work, seeks, apply, flush, deadLetters };
}

const eventsFrom = eventRecords;

describe('a partition revoked and assigned again', () => {
  it('given the partition was revoked or the consumer is stopping before its batch is applied (stale), then nothing of it is folded, read or flushed', async () => {
    const store = createInMemoryStore();
    const loads = jest.spyOn(store, 'loadPosition');
    const { apply, flush, partitions, seeks } = member(store);
    partitions.assigned([0]);
    await apply(eventsFrom(0, ['a.example', 'b.example']), {
      isStale: () => true,
      heartbeat: () => Promise.resolve(),
    });
    expect(partitions.pendingDomains()).toBe(0);
    await flush();
    expect(store.flushes).toEqual([]);
    expect(store.rows.size).toBe(0);
    expect(loads).not.toHaveBeenCalled();
    expect(seeks).toEqual([]);
    await partitions.close();
  });

  it('given a rebalance revokes the partition while its batch is in progress (the heartbeat fails), then its uncommitted deltas are dropped, nothing is flushed for it, and kafkajs gets the group error', async () => {
    const store = createInMemoryStore();
    const { apply, flush, partitions } = member(store);
    partitions.assigned([0]);
    const rebalancing = Object.assign(new Error('The group is rebalancing'), {
      type: 'REBALANCE_IN_PROGRESS',
      retriable: false,
    });
    // The heartbeat comes after every 5,000 records: the batch has folded them by then.
    const records = Array.from({ length: 5001 }, (_, i) =>
      jsonRecord(i, { domain: `d${i % 7}.example` }),
    );
    await expect(
      apply(records, {
        isStale: () => false,
        heartbeat: () => Promise.reject(new GroupError(rebalancing)),
      }),
    ).rejects.toBe(rebalancing);
    expect(partitions.pendingDomains()).toBe(0);
    await flush();
    expect(store.flushes).toEqual([]);
    expect(store.rows.size).toBe(0);
    expect(partitions.failure()).toBeUndefined();
    await partitions.close();
  });

  it('given the batch in progress was dropped by a rebalance, when the partition is assigned again, then it starts from the stored position another member moved meanwhile', async () => {
    const store = createInMemoryStore();
    const a = member(store);
    a.partitions.assigned([0]);
    const rebalancing = Object.assign(new Error('The group is rebalancing'), { retriable: false });
    const records = Array.from({ length: 5001 }, (_, i) => jsonRecord(i, { domain: 'a.example' }));
    await expect(
      a.apply(records, {
        isStale: () => false,
        heartbeat: () => Promise.reject(new GroupError(rebalancing)),
      }),
    ).rejects.toBe(rebalancing);

    // Another member owned the partition meanwhile and committed its first 6,000 records.
    const b = member(store);
    b.partitions.assigned([0]);
    await b.apply([...records, ...eventsFrom(5001, Array(999).fill('a.example') as string[])]);
    await b.flush();
    expect(store.stored.get(0)).toBe(6000);
    await b.partitions.close();

    // Back with the first member; the fetch resumes from Kafka's committed offset.
    a.partitions.assigned([0]);
    await a.apply(eventsFrom(6000, ['a.example', 'z.example']));
    await a.flush();
    expect(a.seeks).toEqual([]);
    expect(store.stored.get(0)).toBe(6002);
    expect(store.rows.get('a.example')?.delivered).toBe(6001);
    expect(store.rows.get('z.example')?.delivered).toBe(1);
    await a.partitions.close();
  });

  it('given the partition was revoked after a flush and another member moved its position, when it is assigned again, then it reads the stored position again instead of seeking back to the one it knew', async () => {
    const store = createInMemoryStore();
    const deadLetters = createInMemoryDeadLetters();
    const a = member(store, deadLetters);
    a.partitions.assigned([0]);
    await a.apply(eventsFrom(0, ['a.example', 'b.example', 'c.example']));
    await a.flush();
    expect(store.stored.get(0)).toBe(3);
    a.partitions.assigned([1]);

    // The other member applies the next records, a bad one among them, and commits.
    const b = member(store, deadLetters);
    b.partitions.assigned([0]);
    await b.apply([
      ...eventsFrom(3, ['d.example']),
      jsonRecord(4, Buffer.from('not json')),
      ...eventsFrom(5, ['e.example']),
    ]);
    await b.flush();
    expect(store.stored.get(0)).toBe(6);
    expect(deadLetters.letters).toHaveLength(1);
    await b.partitions.close();

    // Back with the first member, whose fetch resumes from Kafka's committed offset, 6.
    a.partitions.assigned([0]);
    await a.apply(eventsFrom(6, ['f.example']));
    await a.flush();
    expect(a.seeks).toEqual([]);
    expect(store.stored.get(0)).toBe(7);
    expect(store.rows.get('f.example')?.delivered).toBe(1);
    // Records the other member handled are not read again: no dead letter twice.
    expect(deadLetters.letters).toHaveLength(1);
    await a.partitions.close();
  });
});

describe('lag and freshness of the partitions a member owns', () => {
  const control: BatchControl = { isStale: () => false, heartbeat: () => Promise.resolve() };
  const down = () => new PostgresFailure('unavailable', undefined, new Error('connection lost'));

  /** A member owning `owned`, its lag and freshness gauges fed by its partitions. */
  async function owning(owned: number[], records = 2, at = Date.now()) {
    const store = createInMemoryStore();
    const member = supervised(store);
    member.metrics.watch(member.partitions);
    member.partitions.assigned(owned);
    for (const p of owned) {
      const batch = fetchedBatch(
        p,
        Array.from({ length: records }, (_, i) => jsonRecord(i, { domain: `d${i}.example` }, at)),
      );
      await member.partitions.guarded(p, 'batch', (s) => member.work.applyBatch(s, batch, control));
      await member.partitions.guarded(p, 'flush', (s) => member.work.flush(s));
    }
    const lag = async () =>
      (await member.metrics.lag.get()).values.map((v) => [v.labels.partition, v.value]);
    const freshness = async () => (await member.metrics.freshness.get()).values[0]!.value;
    const stalled = async () =>
      (await member.metrics.partitionStalled.get()).values.map((v) => v.labels.partition);
    return { ...member, store, lag, freshness, stalled };
  }

  it('given a partition held by its backoff after Postgres failed, when the broker shows its end moving on, then its lag follows', async () => {
    const m = await owning([0]);
    expect(await m.lag()).toEqual([['0', 0]]);
    await m.partitions.guarded(0, 'flush', () => Promise.reject(down()));
    expect(m.calls).toEqual(['pause 0']);
    await m.partitions.observeEnds(new Map([[0, 5]]));
    expect(await m.lag()).toEqual([['0', 3]]);
    await m.partitions.observeEnds(new Map([[0, 9]]));
    expect(await m.lag()).toEqual([['0', 7]]);
    await m.partitions.close();
  });

  it('given a partition whose task does not end (Postgres not answering), when the end moves on, then the reading ends, and its lag and freshness grow', async () => {
    const m = await owning([0]);
    let release = () => {};
    const stuck = m.partitions.guarded(
      0,
      'flush',
      () => new Promise<void>((resolve) => (release = resolve)),
    );
    await m.partitions.observeEnds(new Map([[0, 6]]));
    expect(await m.lag()).toEqual([['0', 4]]);
    // Nothing of those 4 records fetched: they have waited since the position last moved.
    const now = Date.now();
    expect(m.partitions.staleness(now + 60_000)).toBeGreaterThanOrEqual(60);
    release();
    await stuck;
    await m.partitions.close();
  });

  it('says how long the oldest record not yet committed has waited: 0 caught up, growing while records wait, kept across a failure', async () => {
    const at = Date.now() - 200_000;
    const m = await owning([0], 2, at);
    await m.partitions.observeEnds(new Map([[0, 2]]));
    expect(m.partitions.staleness(at + 50_000)).toBe(0);
    expect(await m.freshness()).toBe(0);

    // Two more records fetched and folded, the oldest written at `at + 10 s`, not committed.
    const batch = fetchedBatch(0, [
      jsonRecord(2, { domain: 'c.example' }, at + 10_000),
      jsonRecord(3, { domain: 'd.example' }, at + 20_000),
    ]);
    await m.partitions.guarded(0, 'batch', (s) => m.work.applyBatch(s, batch, control));
    expect(m.partitions.staleness(at + 40_000)).toBe(30);
    expect(m.partitions.staleness(at + 70_000)).toBe(60);
    // Postgres fails: the folded records are dropped, and still wait.
    await m.partitions.guarded(0, 'flush', () => Promise.reject(down()));
    expect(m.partitions.staleness(at + 100_000)).toBe(90);
    // The gauge, at its scrape (now, 200 s after `at`): the same measure.
    expect(await m.freshness()).toBeGreaterThanOrEqual(190);
    await m.partitions.close();
  });

  it('given a partition revoked, then its lag and stall series go: the member that owns it now reports it', async () => {
    const m = await owning([0, 1]);
    await m.partitions.observeEnds(
      new Map([
        [0, 2],
        [1, 2],
      ]),
    );
    m.partitions.checkStalls();
    expect(await m.lag()).toEqual([
      ['0', 0],
      ['1', 0],
    ]);
    expect(await m.stalled()).toEqual(['0', '1']);
    m.partitions.assigned([1]);
    expect(await m.lag()).toEqual([['1', 0]]);
    expect(await m.stalled()).toEqual(['1']);
    await m.partitions.close();
  });

  it('given a partition assigned again after another member held it, then its lag is unknown until its stored position is read again', async () => {
    const m = await owning([0]);
    m.partitions.assigned([]);
    // The other member moved the position meanwhile.
    m.store.stored.set(0, 7);
    m.partitions.assigned([0]);
    expect(await m.lag()).toEqual([]);
    await m.partitions.observeEnds(new Map([[0, 9]]));
    expect(await m.lag()).toEqual([['0', 2]]);
    await m.partitions.close();
  });
});
