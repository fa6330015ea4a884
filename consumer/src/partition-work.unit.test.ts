import type { EventDecoder } from '@catchall/schemas';
import {
  createInMemoryStore,
  fetchedBatch,
  jsonDecoder,
  jsonRecord,
  inMemoryPartitionWork,
  eventRecords,
} from '../../test/support/in-memory-ports';
import { createPartitionState } from './partition-state';

function setUp() {
  const store = createInMemoryStore();
  const { work, seeks, deadLetters, metrics } = inMemoryPartitionWork(store);
  let heartbeats = 0;
  const state = createPartitionState('events', 0);
  const control = {
    isStale: () => false,
    heartbeat: () => {
      heartbeats += 1;
      return Promise.resolve();
    },
  };
  const apply = (records: ReturnType<typeof jsonRecord>[]) =>
    work.applyBatch(state, fetchedBatch(0, records), control);
  const consumed = async () => (await metrics.recordsConsumed.get()).values[0]?.value;
  return {
    store,
    deadLetters,
    seeks,
    work,
    state,
    apply,
    consumed,
    heartbeats: () => heartbeats,
  };
}

const events = eventRecords;

describe('partition work', () => {
  it('given a batch of events, when it is applied and flushed, then the counts and the position commit together', async () => {
    const { store, work, state, apply } = setUp();
    await apply(events(0, ['a.example', 'b.example', 'a.example']));
    await work.flush(state);
    expect(store.rows.get('a.example')?.delivered).toBe(2);
    expect(store.rows.get('b.example')?.delivered).toBe(1);
    expect(store.stored.get(0)).toBe(3);
  });

  it('given records applied and committed, when the same records arrive again, then nothing is counted twice', async () => {
    const { store, work, state, apply } = setUp();
    const records = events(0, ['a.example', 'b.example']);
    await apply(records);
    await work.flush(state);
    await apply(records);
    await work.flush(state);
    expect(store.rows.get('a.example')?.delivered).toBe(1);
    expect(store.flushes).toHaveLength(1);
  });

  it('given a first batch above the stored position, when it arrives, then the consumer seeks back and counts nothing of it', async () => {
    const { store, seeks, work, state, apply } = setUp();
    store.stored.set(0, 5);
    await apply(events(9, ['late.example']));
    await work.flush(state);
    expect(seeks).toEqual([5]);
    expect(store.rows.size).toBe(0);
  });

  it('given bad records among good ones, when the batch is applied, then they go to the dead letters in one send with their reasons', async () => {
    const { store, deadLetters, work, state, apply } = setUp();
    await apply([
      jsonRecord(0, { domain: 'ok.example' }),
      jsonRecord(1, Buffer.from('not json')),
      jsonRecord(2, { domain: 'not a domain!' }),
      jsonRecord(3, { domain: 'old.example', occurredAt: -300000000000000 }),
      jsonRecord(4, { domain: 'new.example', type: 'unknown' }),
    ]);
    await work.flush(state);
    expect(deadLetters.sends).toBe(1);
    expect(deadLetters.letters.map((l) => [l.message.offset, l.reason])).toEqual([
      ['1', 'not-wire-format'],
      ['2', 'invalid-domain'],
      ['3', 'time-out-of-range'],
    ]);
    expect([...store.rows.keys()]).toEqual(['ok.example']);
    expect(store.stored.get(0)).toBe(5);
  });

  it('given a failure after dead letters were sent, when the batch is read again, then no record is dead-lettered twice', async () => {
    const { store, deadLetters, work, state, apply } = setUp();
    const records = [jsonRecord(0, Buffer.from('x')), jsonRecord(1, { domain: 'a.example' })];
    store.failures.push(new Error('connection lost'));
    await expect(apply(records)).rejects.toThrow('connection lost');
    state.forget();
    await work.resync(state);
    await apply(records);
    await work.flush(state);
    expect(deadLetters.letters).toHaveLength(1);
    expect(store.rows.get('a.example')?.delivered).toBe(1);
  });

  it('given a flush that fails again and again, when the same records are read again, then they are counted as consumed once', async () => {
    const { store, work, state, apply, consumed } = setUp();
    const records = events(0, ['a.example', 'b.example', 'c.example']);
    for (let attempt = 0; attempt < 3; attempt++) {
      await apply(records);
      store.failures.push(new Error('connection lost'));
      await expect(work.flush(state)).rejects.toThrow('connection lost');
      state.forget();
      await work.resync(state);
    }
    expect(await consumed()).toBe(3);
    await apply([...records, ...events(3, ['d.example'])]);
    await work.flush(state);
    expect(await consumed()).toBe(4);
    expect(store.rows.get('a.example')?.delivered).toBe(1);
  });

  it('commits the position past dead letters at once, so that a restart does not send them again', async () => {
    const { store, deadLetters, apply } = setUp();
    await apply([jsonRecord(0, { domain: 'a.example' }), jsonRecord(1, Buffer.from('x'))]);
    expect(deadLetters.letters).toHaveLength(1);
    expect(store.stored.get(0)).toBe(2);
  });

  it('moves past a batch of only transaction markers or aborted records that follows on from the position', async () => {
    const { store, work, state, apply } = setUp();
    await apply(events(0, ['a.example']));
    await work.passFiltered(state, 1, 1, 2);
    await work.flush(state);
    expect(store.stored.get(0)).toBe(2);
    expect(state.lag()).toBe(0);
    // One that does not follow on (records in between not seen yet) changes nothing.
    await work.passFiltered(state, 5, 6, 7);
    expect(state.pendingFlush()).toBeUndefined();
  });

  it('given a new process whose first fetch holds only an aborted transaction, when it is passed, then the stored position is read and moves past it', async () => {
    const { store, work, state } = setUp();
    store.stored.set(0, 2);
    // Aborted records at 2 and 3, their marker at 4: nothing of the partition reached eachBatch.
    await work.passFiltered(state, 2, 4, 5);
    await work.flush(state);
    expect(store.stored.get(0)).toBe(5);
    expect(state.lag()).toBe(0);
  });

  it('given a partition with no position stored, when its first fetch holds only an aborted transaction, then the position moves past it', async () => {
    const { store, work, state } = setUp();
    await work.passFiltered(state, 0, 3, 4);
    await work.flush(state);
    expect(store.stored.get(0)).toBe(4);
  });

  it('given a storm of bad records, when the batch is applied, then the member heartbeats and sends the dead letters in few requests', async () => {
    const { deadLetters, apply, heartbeats } = setUp();
    const storm = Array.from({ length: 12000 }, (_, i) => jsonRecord(i, Buffer.from('bad')));
    await apply(storm);
    expect(heartbeats()).toBe(2);
    expect(deadLetters.letters).toHaveLength(12000);
    expect(deadLetters.sends).toBe(3);
  });

  /**
   * Partition work whose every decode asks the registry, 400 ms of the clock each; the lookup
   * numbered `failAt` fails retriably (a registry that does not answer).
   */
  function lookingUpEach(failAt?: number) {
    let clock = 0;
    let lookups = 0;
    let heartbeats = 0;
    const codec: EventDecoder = {
      decodeKnown: () => undefined,
      decode: (value) => {
        clock += 400;
        lookups += 1;
        if (lookups === failAt) {
          return Promise.reject(
            Object.assign(new Error('no answer within 5000 ms'), { retriable: true }),
          );
        }
        return jsonDecoder.decode(value);
      },
    };
    const store = createInMemoryStore();
    const { work } = inMemoryPartitionWork(store, undefined, { codec, now: () => clock });
    const state = createPartitionState('events', 0);
    const control = {
      isStale: () => false,
      heartbeat: () => {
        heartbeats += 1;
        return Promise.resolve();
      },
    };
    const apply = () =>
      work.applyBatch(state, fetchedBatch(0, events(0, Array(10).fill('a.example'))), control);
    return { store, apply, heartbeats: () => heartbeats };
  }

  it('given records that each wait on the registry, when the batch is applied, then the member heartbeats every second, not only every 5,000 records', async () => {
    const { apply, heartbeats } = lookingUpEach();
    await apply();
    // 10 lookups, 4,000 ms: a heartbeat after the 3rd, 6th and 9th.
    expect(heartbeats()).toBe(3);
  });

  it('given a long batch of records that each wait on the registry, when a lookup fails further on, then what came before the last heartbeat is committed and not read again', async () => {
    const { store, apply } = lookingUpEach(8);
    await expect(apply()).rejects.toThrow('no answer');
    // Heartbeats after the 3rd and 6th lookups committed those records with their counts.
    expect(store.stored.get(0)).toBe(6);
    expect(store.rows.get('a.example')?.delivered).toBe(6);
  });

  it('given a flush whose values Postgres refuses, when its records are read again, then only the refused record is dead-lettered and the others are counted', async () => {
    const { store, deadLetters, seeks, work, state, apply } = setUp();
    const records = events(0, [
      'a.example',
      'b.example',
      'refused.example',
      'c.example',
      'a.example',
    ]);
    store.refused.add('refused.example');
    await apply(records);
    await work.flush(state);
    expect(seeks).toEqual([0]);
    expect(store.rows.size).toBe(0);
    await apply(records);
    expect(deadLetters.letters.map((l) => [l.message.offset, l.reason])).toEqual([
      ['2', 'store-refused'],
    ]);
    expect(store.rows.get('a.example')?.delivered).toBe(2);
    expect(store.rows.get('c.example')?.delivered).toBe(1);
    expect(store.rows.has('refused.example')).toBe(false);
    expect(store.stored.get(0)).toBe(5);
  });

  it('given a refused flush with other dead letters among its records, when its records are committed in halves, then the redrive ledger learns of every dead letter with the flush that passes it', async () => {
    const { store, deadLetters, work, state, apply } = setUp();
    const records = [
      jsonRecord(0, { domain: 'a.example' }),
      jsonRecord(1, Buffer.from('not json')),
      jsonRecord(2, { domain: 'refused.example' }),
      jsonRecord(3, Buffer.from('not json either')),
      jsonRecord(4, { domain: 'c.example' }),
      jsonRecord(5, Buffer.from('nor this')),
    ];
    store.refused.add('refused.example');
    await apply(records);
    await work.flush(state);
    await apply(records);
    await work.flush(state);
    expect(deadLetters.letters.map((l) => [l.message.offset, l.reason])).toEqual([
      ['1', 'not-wire-format'],
      ['3', 'not-wire-format'],
      ['5', 'not-wire-format'],
      ['2', 'store-refused'],
    ]);
    expect(store.stored.get(0)).toBe(6);
    expect([...store.deadOrigins.keys()].sort()).toEqual([1, 2, 3, 5].map((o) => `events:0:${o}`));
    // Each remembered once, by the flush that passed it.
    const marked = store.flushes.flatMap((f) => (f.deadLettered ?? []).map((d) => d.coordinates));
    expect(marked.sort()).toEqual([1, 2, 3, 5].map((o) => `events:0:${o}`));
  });

  it('given a long batch whose flush at a heartbeat is refused, when the batch goes on and its records are read again, then only the refused record is left out', async () => {
    const { store, deadLetters, seeks, work, state, apply } = setUp();
    // 12,000 records: the heartbeat after the 5,000th flushes what came before, mid-batch.
    const domains = Array.from({ length: 12000 }, (_, i) =>
      i === 1234 ? 'refused.example' : `d${i % 100}.example`,
    );
    const records = events(0, domains);
    store.refused.add('refused.example');
    await apply(records);
    await work.flush(state);
    // The refused flush's records are read again from its start, before anything is counted.
    expect(seeks).toEqual([0]);
    expect(store.rows.size).toBe(0);
    expect(store.stored.get(0)).toBeUndefined();
    await apply(records);
    await work.flush(state);
    expect(deadLetters.letters.map((l) => [l.message.offset, l.reason])).toEqual([
      ['1234', 'store-refused'],
    ]);
    let counted = 0;
    for (const row of store.rows.values()) counted += row.delivered;
    expect(counted).toBe(11999);
    expect(store.stored.get(0)).toBe(12000);
  });

  it('given another member moved the position, when this one flushes, then it drops its deltas and seeks to the stored position', async () => {
    const { store, seeks, work, state, apply } = setUp();
    await apply(events(0, ['a.example', 'b.example']));
    store.stored.set(0, 7);
    await work.flush(state);
    expect(store.rows.size).toBe(0);
    expect(seeks).toEqual([7]);
    expect(state.position).toBe(7);
  });

  it('given a partition with no batch fetched yet, when the broker shows its end, then the stored position is read and the records behind it are lag', async () => {
    const { store, work, state, seeks } = setUp();
    store.stored.set(0, 5);
    await work.observeEnd(state, 9);
    expect(state.position).toBe(5);
    expect(state.lag()).toBe(4);
    // Read only: the first batch still checks the fetch position (decideStart).
    expect(state.isVerified()).toBe(false);
    expect(seeks).toEqual([]);
  });

  it('given a partition caught up, when the broker shows the same end, then it has no lag', async () => {
    const { work, state, apply } = setUp();
    await apply(events(0, ['a.example', 'b.example']));
    await work.flush(state);
    await work.observeEnd(state, 2);
    expect(state.lag()).toBe(0);
  });
});
