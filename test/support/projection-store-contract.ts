import type { DomainDelta, EventTry, EventType } from '@catchall/core';
import type {
  DeadLetteredRecord,
  PartitionFlush,
  ProjectionStore,
  RedrivenEvent,
} from '@catchall/consumer';

/** A store to hold to the contract, and what it holds per domain (times in epoch ms). */
export interface StoreUnderTest {
  store: ProjectionStore;
  rows(): Promise<Map<string, DomainDelta>>;
}

const delta = (delivered: number, bounced: number): DomainDelta => ({
  delivered,
  bounced,
  firstEventAt: 1_700_000_000_000,
  lastEventAt: 1_700_000_001_000,
});

/** The window the contract's stores are opened with: their default, an hour. */
const WINDOW_MS = 3_600_000;
const T0 = 1_700_000_000_000;

/** A try of event `eventId` of `domain`, its record written `at` (epoch ms). */
const attempt = (
  domain: string,
  eventId: string,
  at: number,
  type: EventType = 'delivered',
): EventTry => ({ domain, eventId, at, event: { type, occurredAt: T0 } });

/**
 * A record at `coordinates` dead-lettered, its value's digest `digest` ('v'); with `copyOf`,
 * a record whose `redrive-origin` names that earlier record of its partition.
 */
const dead = (coordinates: string, digest = 'v', copyOf?: string): DeadLetteredRecord => ({
  coordinates,
  digest,
  ...(copyOf === undefined ? {} : { copyOf }),
});

/** A redriven dead letter of `origin` at `offset`, an event of `domain`. */
const redriven = (
  origin: string,
  offset: number,
  domain: string,
  type: EventType = 'delivered',
  eventId?: string,
  digest = 'v',
): RedrivenEvent => ({
  origin,
  offset,
  domain,
  at: T0,
  event: { type, occurredAt: T0 },
  digest,
  ...(eventId === undefined ? {} : { eventId }),
});

/** A flush of topic `t`: no deltas unless `rest` gives them. */
const flushAt = (
  partition: number,
  expected: number | null,
  next: number,
  rest: Partial<PartitionFlush> = {},
): PartitionFlush => ({ topic: 't', partition, expected, next, deltas: new Map(), ...rest });

/**
 * The behaviour every ProjectionStore shares, as tests: run against the Postgres store
 * (consumer/src/projection-store.int.test.ts) and the in-memory one the unit tests use
 * (test/support/in-memory-ports.unit.test.ts), so that the fast tests stand on the same
 * contract as the real store. `open` gives a fresh, empty store for each test.
 */
export function projectionStoreContract(open: () => Promise<StoreUnderTest>): void {
  it('given no stored position, when a flush claims one, then counts and position are written together', async () => {
    const { store, rows } = await open();
    expect(await store.loadPosition('t', 0)).toBeNull();
    const outcome = await store.flush({
      topic: 't',
      partition: 0,
      expected: null,
      next: 3,
      deltas: new Map([
        ['a.com', delta(2, 0)],
        ['b.com', delta(0, 1)],
      ]),
    });
    expect(outcome).toBe('committed');
    expect(await store.loadPosition('t', 0)).toBe(3);
    expect(Object.fromEntries(await rows())).toEqual({
      'a.com': delta(2, 0),
      'b.com': delta(0, 1),
    });
  });

  it('adds to existing counts and widens the event time span', async () => {
    const { store, rows } = await open();
    await store.flush(flushAt(0, null, 1, { deltas: new Map([['a.com', delta(1, 0)]]) }));
    const wider = {
      delivered: 1,
      bounced: 1,
      firstEventAt: 1_600_000_000_000,
      lastEventAt: 1_800_000_000_000,
    };
    await store.flush(flushAt(0, 1, 2, { deltas: new Map([['a.com', wider]]) }));
    expect((await rows()).get('a.com')).toEqual({
      delivered: 2,
      bounced: 1,
      firstEventAt: 1_600_000_000_000,
      lastEventAt: 1_800_000_000_000,
    });
  });

  it('refuses a flush from a stale position and writes nothing (compare-and-set)', async () => {
    const { store, rows } = await open();
    await store.flush(flushAt(1, null, 10, { deltas: new Map([['a.com', delta(10, 0)]]) }));
    // A member that lost the partition still believes the position is where it read it.
    const stale = await store.flush(
      flushAt(1, null, 12, { deltas: new Map([['a.com', delta(2, 0)]]) }),
    );
    expect(stale).toBe('conflict');
    const behind = await store.flush(
      flushAt(1, 8, 12, { deltas: new Map([['a.com', delta(4, 0)]]) }),
    );
    expect(behind).toBe('conflict');
    expect(await store.loadPosition('t', 1)).toBe(10);
    expect((await rows()).get('a.com')).toEqual(delta(10, 0));
  });

  it('moves the position even when a flush has no counts (dead letters only)', async () => {
    const { store } = await open();
    expect(
      await store.flush({ topic: 't', partition: 2, expected: null, next: 5, deltas: new Map() }),
    ).toBe('committed');
    expect(await store.loadPosition('t', 2)).toBe(5);
  });

  it('keeps partitions apart: each has its own position', async () => {
    const { store, rows } = await open();
    for (const [partition, next] of [
      [0, 4],
      [1, 9],
    ] as const) {
      await store.flush({
        topic: 't',
        partition,
        expected: null,
        next,
        deltas: new Map([['a.com', delta(1, 0)]]),
      });
    }
    expect(await store.loadPosition('t', 0)).toBe(4);
    expect(await store.loadPosition('t', 1)).toBe(9);
    expect((await rows()).get('a.com')).toEqual(delta(2, 0));
  });

  it('keeps topics apart: the same partition of another topic has its own position', async () => {
    const { store } = await open();
    await store.flush({ topic: 't', partition: 0, expected: null, next: 4, deltas: new Map() });
    expect(await store.loadPosition('other', 0)).toBeNull();
    expect(
      await store.flush({
        topic: 'other',
        partition: 0,
        expected: null,
        next: 2,
        deltas: new Map(),
      }),
    ).toBe('committed');
    expect(await store.loadPosition('t', 0)).toBe(4);
    expect(await store.positions('other')).toEqual(new Map([[0, 2]]));
  });

  it('refuses a flush that expects a position where none is stored, or one ahead of it', async () => {
    const { store, rows } = await open();
    const expecting = (expected: number) =>
      store.flush({
        topic: 't',
        partition: 3,
        expected,
        next: expected + 1,
        deltas: new Map([['a.com', delta(1, 0)]]),
      });
    expect(await expecting(5)).toBe('conflict');
    await store.flush({ topic: 't', partition: 3, expected: null, next: 5, deltas: new Map() });
    expect(await expecting(7)).toBe('conflict');
    expect(await store.loadPosition('t', 3)).toBe(5);
    expect((await rows()).size).toBe(0);
  });

  it('sets the starting positions of partitions that have none, and leaves stored ones alone', async () => {
    const { store } = await open();
    await store.flush({ topic: 't', partition: 0, expected: null, next: 7, deltas: new Map() });
    await store.initPositions(
      't',
      new Map([
        [0, 100],
        [1, 50],
      ]),
    );
    expect(await store.positions('t')).toEqual(
      new Map([
        [0, 7],
        [1, 50],
      ]),
    );
  });

  it('accepts positions from the Kafka cluster they were read from and refuses another one', async () => {
    const { store } = await open();
    await store.claimSource('t', 'cluster-a');
    await store.claimSource('t', 'cluster-a');
    await expect(store.claimSource('t', 'cluster-b')).rejects.toThrow(/cluster-a.*cluster-b/s);
    await expect(store.claimSource('t', 'cluster-b')).rejects.toMatchObject({
      code: 'CATCHALL_CLUSTER_MISMATCH',
      retriable: false,
    });
    await store.claimSource('other-topic', 'cluster-b');
  });

  describe('events whose ids the client chose', () => {
    it('counts an event once however many tries of it one flush holds', async () => {
      const { store, rows } = await open();
      await store.flush({
        topic: 't',
        partition: 0,
        expected: null,
        next: 4,
        deltas: new Map(),
        tries: [
          attempt('a.com', 'id-1', T0),
          attempt('a.com', 'id-1', T0 + 1000),
          attempt('a.com', 'id-2', T0, 'bounced'),
          attempt('a.com', 'id-1', T0 - 5000),
        ],
      });
      expect((await rows()).get('a.com')).toMatchObject({ delivered: 1, bounced: 1 });
    });

    it("keeps each try's own time, whatever place its key takes among a flush's keys", async () => {
      const { store, rows } = await open();
      // Thirty events at three times more than the window apart; each retried near its own.
      const timeOf = (i: number) => T0 + (i % 3) * (2 * WINDOW_MS + 1);
      const ids = Array.from({ length: 30 }, (_, i) => `id-${i}`);
      await store.flush(
        flushAt(0, null, 30, { tries: ids.map((id, i) => attempt('a.com', id, timeOf(i))) }),
      );
      await store.flush(
        flushAt(0, 30, 60, {
          tries: ids.map((id, i) => attempt('a.com', id, timeOf(i) + 1000)),
        }),
      );
      expect((await rows()).get('a.com')).toMatchObject({ delivered: 30, bounced: 0 });
    });

    it('counts a retry in a later flush, or on another partition, not again', async () => {
      const { store, rows } = await open();
      const first = [attempt('a.com', 'id-1', T0), attempt('b.com', 'id-1', T0)];
      await store.flush(flushAt(0, null, 2, { tries: first }));
      await store.flush(flushAt(0, 2, 3, { tries: [attempt('a.com', 'id-1', T0 + WINDOW_MS)] }));
      await store.flush(flushAt(1, null, 1, { tries: [attempt('b.com', 'id-1', T0 - WINDOW_MS)] }));
      const counted = await rows();
      expect(counted.get('a.com')).toMatchObject({ delivered: 1, bounced: 0 });
      expect(counted.get('b.com')).toMatchObject({ delivered: 1, bounced: 0 });
    });

    it('counts a try further than the window from the counted one again, and the same id on another domain as another event', async () => {
      const { store, rows } = await open();
      await store.flush({
        topic: 't',
        partition: 0,
        expected: null,
        next: 3,
        deltas: new Map([['a.com', delta(1, 0)]]),
        tries: [
          attempt('a.com', 'id-1', T0),
          attempt('a.com', 'id-1', T0 + WINDOW_MS + 1),
          attempt('c.com', 'id-1', T0),
        ],
      });
      const counted = await rows();
      expect(counted.get('a.com')).toMatchObject({ delivered: 3 });
      expect(counted.get('c.com')).toMatchObject({ delivered: 1 });
    });

    it('decides in order, against counted tries only: a duplicate does not extend the window', async () => {
      const { store, rows } = await open();
      const tries = [0, 0.9, 1.5, 1.95].map((w) => attempt('a.com', 'id-1', T0 + w * WINDOW_MS));
      // Split over two flushes, the same as in one: a rebuild flushes elsewhere.
      await store.flush(flushAt(0, null, 2, { tries: tries.slice(0, 2) }));
      await store.flush(flushAt(0, 2, 4, { tries: tries.slice(2) }));
      expect((await rows()).get('a.com')).toMatchObject({ delivered: 2 });
    });

    it('remembers nothing of a flush that lost its compare-and-set', async () => {
      const { store, rows } = await open();
      await store.flush({ topic: 't', partition: 0, expected: null, next: 1, deltas: new Map() });
      const lost = await store.flush(
        flushAt(0, null, 2, { tries: [attempt('a.com', 'id-1', T0)] }),
      );
      expect(lost).toBe('conflict');
      await store.flush(flushAt(0, 1, 2, { tries: [attempt('a.com', 'id-1', T0)] }));
      expect((await rows()).get('a.com')).toMatchObject({ delivered: 1 });
    });
  });

  describe('redriven dead letters', () => {
    it('counts an origin the version dead-lettered once: twice in a flush, again later', async () => {
      const { store, rows } = await open();
      await store.flush(flushAt(0, null, 1, { deadLettered: [dead('t:0:0')] }));
      await store.flush(
        flushAt(0, 1, 3, {
          redriven: [redriven('t:0:0', 1, 'a.com'), redriven('t:0:0', 2, 'a.com')],
        }),
      );
      await store.flush(
        flushAt(0, 3, 4, {
          deltas: new Map([['c.com', delta(1, 0)]]),
          redriven: [redriven('t:0:0', 3, 'a.com')],
        }),
      );
      const counted = await rows();
      expect(counted.get('a.com')).toMatchObject({ delivered: 1, bounced: 0 });
      expect(counted.get('c.com')).toMatchObject({ delivered: 1 });
    });

    it('counts a copy dead-lettered in the same flush; a record naming another topic is no copy and counts each time', async () => {
      const { store, rows } = await open();
      await store.flush(
        flushAt(0, null, 3, {
          deadLettered: [dead('t:0:0')],
          redriven: [
            redriven('t:0:0', 1, 'a.com'),
            redriven('elsewhere:0:4', 2, 'b.com', 'bounced'),
          ],
        }),
      );
      await store.flush(
        flushAt(0, 3, 4, { redriven: [redriven('elsewhere:0:4', 3, 'b.com', 'bounced')] }),
      );
      const counted = await rows();
      expect(counted.get('a.com')).toMatchObject({ delivered: 1 });
      expect(counted.get('b.com')).toMatchObject({ bounced: 2 });
    });

    it('counts as a record one naming a record the version counted itself that no version dead-lettered', async () => {
      const { store, rows } = await open();
      await store.flush(flushAt(0, null, 5, { deltas: new Map([['a.com', delta(1, 0)]]) }));
      await store.flush(flushAt(0, 5, 6, { redriven: [redriven('t:0:2', 5, 'a.com')] }));
      expect((await rows()).get('a.com')).toMatchObject({ delivered: 2 });
      expect(await store.loadPosition('t', 0)).toBe(6);
    });

    it('counts a record naming a dead letter of another value as any record, and the dead letter once redriven', async () => {
      const { store, rows } = await open();
      await store.flush(flushAt(0, null, 1, { deadLettered: [dead('t:0:0', 'y')] }));
      // A producer's record naming the dead letter, of another value: no copy of it.
      await store.flush(
        flushAt(0, 1, 2, {
          redriven: [redriven('t:0:0', 1, 'z.com', 'delivered', undefined, 'z')],
        }),
      );
      // The real copy (the dead letter's value) counts, once.
      await store.flush(
        flushAt(0, 2, 4, {
          redriven: [
            redriven('t:0:0', 2, 'y.com', 'delivered', undefined, 'y'),
            redriven('t:0:0', 3, 'y.com', 'delivered', undefined, 'y'),
          ],
        }),
      );
      await store.flush(
        flushAt(0, 4, 6, {
          redriven: [
            redriven('t:0:0', 4, 'z.com', 'delivered', undefined, 'z'),
            redriven('t:0:0', 5, 'y.com', 'delivered', undefined, 'y'),
          ],
        }),
      );
      const counted = await rows();
      expect(counted.get('z.com')).toMatchObject({ delivered: 2 });
      expect(counted.get('y.com')).toMatchObject({ delivered: 1 });
    });

    it('remembers a dead-lettered record naming a dead letter of another value under its own place: each counts once when redriven', async () => {
      const { store, rows } = await open();
      await store.flush(flushAt(0, null, 1, { deadLettered: [dead('t:0:0', 'y')] }));
      // A producer's record naming that dead letter, of another value, dead-lettered too.
      await store.flush(flushAt(0, 1, 2, { deadLettered: [dead('t:0:1', 'z', 't:0:0')] }));
      // Its dead letter redriven twice (named by its own place, as the tools read it back).
      await store.flush(
        flushAt(0, 2, 4, {
          redriven: [
            redriven('t:0:1', 2, 'z.com', 'delivered', undefined, 'z'),
            redriven('t:0:1', 3, 'z.com', 'delivered', undefined, 'z'),
          ],
        }),
      );
      // The first dead letter's copy still counts once, and a third copy of the other none.
      await store.flush(
        flushAt(0, 4, 7, {
          redriven: [
            redriven('t:0:0', 4, 'y.com', 'delivered', undefined, 'y'),
            redriven('t:0:1', 5, 'z.com', 'delivered', undefined, 'z'),
            redriven('t:0:0', 6, 'y.com', 'delivered', undefined, 'y'),
          ],
        }),
      );
      const counted = await rows();
      expect(counted.get('z.com')).toMatchObject({ delivered: 1 });
      expect(counted.get('y.com')).toMatchObject({ delivered: 1 });
    });

    it('places records dead-lettered in one flush as the ledger would across flushes', async () => {
      const { store, rows } = await open();
      // A dead letter, a copy of it dead-lettered again (its value) and a record naming it
      // with another value, all in one flush.
      await store.flush(
        flushAt(0, null, 3, {
          deadLettered: [
            dead('t:0:0', 'y'),
            dead('t:0:1', 'y', 't:0:0'),
            dead('t:0:2', 'z', 't:0:0'),
          ],
        }),
      );
      await store.flush(
        flushAt(0, 3, 6, {
          redriven: [
            redriven('t:0:0', 3, 'y.com', 'delivered', undefined, 'y'),
            redriven('t:0:2', 4, 'z.com', 'bounced', undefined, 'z'),
            redriven('t:0:0', 5, 'y.com', 'delivered', undefined, 'y'),
          ],
        }),
      );
      // The copy dead-lettered again is the first dead letter's: a record naming its place is
      // no copy of a dead letter, and counts as a record.
      await store.flush(
        flushAt(0, 6, 7, {
          redriven: [redriven('t:0:1', 6, 'w.com', 'delivered', undefined, 'y')],
        }),
      );
      const counted = await rows();
      expect(counted.get('y.com')).toMatchObject({ delivered: 1, bounced: 0 });
      expect(counted.get('z.com')).toMatchObject({ delivered: 0, bounced: 1 });
      expect(counted.get('w.com')).toMatchObject({ delivered: 1 });
    });

    it('counts a record whose header names no record before it in its partition as any record, and leaves the named record its own fate', async () => {
      const { store, rows } = await open();
      await store.flush({ topic: 't', partition: 0, expected: null, next: 5, deltas: new Map() });
      // Not copies redrive wrote (it writes a copy after its origin, in its partition): another
      // partition past its end, twice; the record's own offset; a later one in its flush.
      expect(
        await store.flush(
          flushAt(1, null, 4, {
            deltas: new Map([['c.com', delta(1, 0)]]),
            redriven: [
              redriven('t:0:999', 0, 'a.com'),
              redriven('t:0:999', 1, 'a.com'),
              redriven('t:1:2', 2, 'b.com', 'bounced'),
              redriven('t:1:9', 3, 'b.com', 'bounced'),
            ],
          }),
        ),
      ).toBe('committed');
      expect(await store.loadPosition('t', 1)).toBe(4);
      expect((await rows()).get('a.com')).toMatchObject({ delivered: 2 });
      expect((await rows()).get('b.com')).toMatchObject({ bounced: 2 });
      // The records they name are judged on their own: t:1:9 dead-lettered, then its real
      // copy counts; t:0:999 read and counted itself.
      await store.flush(flushAt(1, 4, 10, { deadLettered: [dead('t:1:9')] }));
      await store.flush(flushAt(1, 10, 11, { redriven: [redriven('t:1:9', 10, 'd.com')] }));
      await store.flush(flushAt(0, 5, 1000, { deltas: new Map([['e.com', delta(1, 0)]]) }));
      const counted = await rows();
      expect(counted.get('a.com')).toMatchObject({ delivered: 2, bounced: 0 });
      expect(counted.get('b.com')).toMatchObject({ delivered: 0, bounced: 2 });
      expect(counted.get('c.com')).toMatchObject({ delivered: 1 });
      expect(counted.get('d.com')).toMatchObject({ delivered: 1 });
      expect(counted.get('e.com')).toMatchObject({ delivered: 1 });
    });

    it('remembers no origin of a flush that lost its compare-and-set', async () => {
      const { store, rows } = await open();
      await store.flush(flushAt(0, null, 1, { deadLettered: [dead('t:0:0')] }));
      const lost = await store.flush(
        flushAt(0, null, 2, { redriven: [redriven('t:0:0', 1, 'a.com')] }),
      );
      expect(lost).toBe('conflict');
      await store.flush(flushAt(0, 1, 2, { redriven: [redriven('t:0:0', 1, 'a.com')] }));
      expect((await rows()).get('a.com')).toMatchObject({ delivered: 1 });
    });

    it('deduplicates a redriven event with a client id against the tries counted', async () => {
      const { store, rows } = await open();
      await store.flush(
        flushAt(0, null, 2, {
          deadLettered: [dead('t:0:1'), dead('t:0:1')],
          tries: [attempt('a.com', 'id-1', T0)],
        }),
      );
      await store.flush(flushAt(0, 2, 3, { deadLettered: [dead('t:0:2')] }));
      await store.flush({
        topic: 't',
        partition: 0,
        expected: 3,
        next: 5,
        deltas: new Map(),
        redriven: [
          redriven('t:0:1', 3, 'a.com', 'delivered', 'id-1'),
          redriven('t:0:2', 4, 'a.com', 'bounced', 'id-2'),
        ],
      });
      expect((await rows()).get('a.com')).toMatchObject({ delivered: 1, bounced: 1 });
    });
  });
}
