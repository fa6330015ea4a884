import { createPartitionState } from './partition-state';

const delivered = { type: 'delivered' as const, occurredAt: 1000 };

describe('partition state', () => {
  it('given no position read yet, when none is stored, then it starts at offset 0', () => {
    const state = createPartitionState('events', 0);
    expect(state.needsPosition()).toBe(true);
    state.positionLoaded(null);
    expect(state.needsPosition()).toBe(false);
    expect(state.decideStart(0)).toEqual({ action: 'process', gap: false });
    expect(state.isVerified()).toBe(true);
  });

  it('given a stored position, when the first batch starts above it, then it seeks back once and takes the answer', () => {
    const state = createPartitionState('events', 0);
    state.positionLoaded(10);
    expect(state.decideStart(15)).toEqual({ action: 'seek', to: 10 });
    expect(state.isVerified()).toBe(false);
    // The answer to the seek starts above it too: retention or transaction markers.
    expect(state.decideStart(12)).toEqual({ action: 'process', gap: true });
  });

  it('keeps redriven events and dead-lettered origins for the flush, and forgets them with it', () => {
    const state = createPartitionState('events', 0, () => 500);
    state.positionLoaded(null);
    state.fold(0, 'a.example', delivered, 111, undefined, 'events:1:7', 'd7');
    state.pass(1, 112);
    state.markDead(1, { coordinates: 'events:0:1', digest: 'd1' });
    const flush = state.pendingFlush()!;
    expect(flush.redriven).toEqual([
      {
        origin: 'events:1:7',
        offset: 0,
        domain: 'a.example',
        event: delivered,
        at: 111,
        digest: 'd7',
      },
    ]);
    expect(flush.deadLettered).toEqual([{ coordinates: 'events:0:1', digest: 'd1' }]);
    expect(flush.deltas.size).toBe(0);
    expect(state.pendingDomains).toBe(1);
    state.committed(flush, 500);
    state.fold(2, 'a.example', delivered, 113, 'id-1', 'events:1:8');
    expect(state.pendingFlush()).toMatchObject({
      redriven: [{ origin: 'events:1:8', eventId: 'id-1' }],
      deadLettered: [],
    });
    state.forget();
    state.positionLoaded(2);
    expect(state.pendingFlush()).toBeUndefined();
  });

  it('given a failure forgot the stored position, then the last one known stays what reports name until it is read again', () => {
    const state = createPartitionState('events', 3);
    expect(state.lastKnownPosition).toBeUndefined();
    state.positionLoaded(7);
    state.forget();
    expect(state.position).toBeUndefined();
    // Reports said offset 0 here (position ?? 0) after a Postgres outage.
    expect(state.lastKnownPosition).toBe(7);
    state.positionLoaded(9);
    expect(state.lastKnownPosition).toBe(9);
    state.reassigned();
    expect(state.lastKnownPosition).toBeUndefined();
  });

  it('skips records below the position: they were applied before', () => {
    const state = createPartitionState('events', 0);
    state.positionLoaded(10);
    expect(state.isApplied(9)).toBe(true);
    expect(state.isApplied(10)).toBe(false);
  });

  it('given folded events, when the flush commits, then its position is stored and nothing is pending', () => {
    const state = createPartitionState('events', 0, () => 500);
    state.positionLoaded(null);
    state.fold(0, 'a.example', delivered, 111);
    state.pass(1, 112);
    state.fold(2, 'a.example', delivered, 113);
    const flush = state.pendingFlush()!;
    expect(flush).toMatchObject({ expected: null, next: 3 });
    expect(flush.deltas.get('a.example')).toMatchObject({ delivered: 2 });
    expect(state.newestTimestamp).toBe(113);
    state.committed(flush, 600);
    expect(state.position).toBe(3);
    expect(state.pendingDomains).toBe(0);
    expect(state.pendingFlush()).toBeUndefined();
    expect(state.progressAt).toBe(600);
  });

  it('keeps events with ids the client chose as tries, in offset order, for the store to decide; the size bound counts them', () => {
    const state = createPartitionState('events', 0, () => 500);
    state.positionLoaded(null);
    state.fold(0, 'a.example', delivered, 111, 'id-1');
    state.fold(1, 'a.example', delivered, 112);
    state.fold(2, 'a.example', delivered, 113, 'id-1');
    expect(state.pendingDomains).toBe(3);
    const flush = state.pendingFlush()!;
    expect(flush.deltas.get('a.example')).toMatchObject({ delivered: 1 });
    expect(flush.tries).toEqual([
      { domain: 'a.example', eventId: 'id-1', at: 111, event: delivered },
      { domain: 'a.example', eventId: 'id-1', at: 113, event: delivered },
    ]);
    expect(flush.newestRecordAt).toBe(113);
    state.committed(flush, 600);
    expect(state.pendingDomains).toBe(0);
    expect(state.pendingFlush()).toBeUndefined();
  });

  it('moves past transaction markers after the last record of a batch', () => {
    const state = createPartitionState('events', 0);
    state.positionLoaded(0);
    state.fold(0, 'a.example', delivered, 1);
    state.endOfBatch(2, 3);
    expect(state.pendingFlush()).toMatchObject({ expected: 0, next: 3 });
    expect(state.lag()).toBe(3);
  });

  it('forgets what is not committed after a failure, and resyncs to the stored position', () => {
    const state = createPartitionState('events', 0);
    state.positionLoaded(4);
    state.fold(4, 'a.example', delivered, 1);
    state.forget();
    expect(state.needsPosition()).toBe(true);
    expect(state.pendingDomains).toBe(0);
    expect(state.resyncedTo(4)).toBe(4);
    expect(state.isVerified()).toBe(false);
    // The batch answering the resync's seek is processed.
    expect(state.decideStart(4)).toEqual({ action: 'process', gap: false });
  });

  it('given the group was joined again, then the fetch position is checked again', () => {
    const state = createPartitionState('events', 0);
    state.positionLoaded(0);
    state.decideStart(0);
    state.rejoined();
    expect(state.isVerified()).toBe(false);
  });

  it('given a refused flush, when it is isolated, then the range is read again and handed over once read whole', () => {
    const state = createPartitionState('events', 0);
    state.positionLoaded(5);
    state.fold(5, 'a.example', delivered, 1);
    state.fold(6, 'b.example', delivered, 1);
    expect(state.isolate()).toBe(5);
    expect(state.pendingDomains).toBe(0);
    expect(state.isIsolating(6)).toBe(true);
    expect(state.isIsolating(7)).toBe(false);
    state.decideStart(5);
    state.collect({
      offset: 5,
      domain: 'a.example',
      event: delivered,
      at: 1,
      message: {} as never,
    });
    state.pass(5, 1);
    expect(state.takeIsolated()).toBeUndefined();
    state.collect({
      offset: 6,
      domain: 'b.example',
      event: delivered,
      at: 1,
      message: {} as never,
    });
    state.pass(6, 1);
    const taken = state.takeIsolated()!;
    expect(taken.until).toBe(7);
    expect(taken.records.map((r) => r.offset)).toEqual([5, 6]);
    expect(state.isIsolating(5)).toBe(false);
  });

  it('given a refused range read again over two fetches, when a flush comes between them, then it commits nothing: the records collected are not counted yet', () => {
    const state = createPartitionState('events', 0);
    state.positionLoaded(5);
    state.fold(5, 'a.example', delivered, 1);
    state.fold(6, 'b.example', delivered, 1);
    state.isolate();
    state.decideStart(5);
    // The first fetch of the range: one record collected, the position passes it.
    state.collect({
      offset: 5,
      domain: 'a.example',
      event: delivered,
      at: 1,
      message: {} as never,
    });
    state.pass(5, 1);
    // A flush tick (or the commit of dead letters) now would store 6 with no row for 5.
    expect(state.pendingFlush()).toBeUndefined();
    state.collect({
      offset: 6,
      domain: 'b.example',
      event: delivered,
      at: 1,
      message: {} as never,
    });
    state.pass(6, 1);
    expect(state.pendingFlush()).toBeUndefined();
    // Read whole: handed over, in the same task, to be committed in halves.
    expect(state.takeIsolated()!.records.map((r) => r.offset)).toEqual([5, 6]);
  });

  it('given a range being taken apart, when a failure forgets what is uncommitted, then the range is read again as any other', () => {
    const state = createPartitionState('events', 0);
    state.positionLoaded(0);
    state.fold(0, 'a.example', delivered, 1);
    state.isolate();
    state.forget();
    expect(state.isIsolating(0)).toBe(false);
    expect(state.takeIsolated()).toBeUndefined();
  });

  it('runs the tasks of a partition one at a time, and a failure does not block the next', async () => {
    const state = createPartitionState('events', 0);
    const order: string[] = [];
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = state.run(async () => {
      await gate;
      order.push('first');
      throw new Error('failed');
    });
    const second = state.run(() => {
      order.push('second');
      return Promise.resolve();
    });
    // The second task is queued while the first waits: it must not start before the first ends.
    await Promise.resolve();
    expect(order).toEqual([]);
    release();
    await expect(first).rejects.toThrow('failed');
    await second;
    expect(order).toEqual(['first', 'second']);
  });
});
