import { ASSUMPTIONS } from './capacity-assumptions';
import {
  foldRatio,
  machineCapacity,
  size,
  type Assumptions,
  type MeasuredInputs,
} from './capacity-model';

const inputs: MeasuredInputs = {
  ingestBatchUs: 10,
  ingestPutUs: 80,
  kafkaUs: 20,
  projectorUs: { zipf: 6, uniform: 9, heavy: 5 },
  projectorClientIdUs: 12,
  rowsPerSecondPerConnection: 25_000,
  postgresUsPerRow: 15,
  walBytesPerRow: 300,
  bytesPerDomain: 250,
  mbPerMillionIds: 125,
  otherUs: 5,
  recordBytes: 67,
};

// The model's own assumptions: 3 copies, 365 days kept, 8 cores and 4 TB per broker, pods of
// one core, at least 2 of each, 60 % busy, 250 ms flushes, an hour of ids, a 64-core primary
// and 200 MB/s of WAL.
const assumptions: Assumptions = { ...ASSUMPTIONS };

const target = { name: 'target', eventsPerSecond: 100_000, domains: 10_000_000 };

describe('foldRatio', () => {
  it('is near 1 when the domains far outnumber the events of a flush (uniform over 10,000,000)', () => {
    expect(foldRatio('uniform', 25_000, 10_000_000)).toBeGreaterThan(0.99);
  });

  it('is lower for hot domains and lower still when more events fold together', () => {
    const small = foldRatio('zipf', 2_500, 10_000_000);
    const large = foldRatio('zipf', 250_000, 10_000_000);
    expect(small).toBeLessThan(0.9);
    expect(large).toBeLessThan(small);
  });

  it('folds the heavy load (up to 2,500 events per domain) to a few rows', () => {
    expect(foldRatio('heavy', 25_000, 10_000_000)).toBeLessThan(0.05);
  });
});

describe('size', () => {
  it('sizes each scaled-out part as work over its cores at the target utilization', () => {
    const s = size(inputs, assumptions, target, 'uniform');
    // 100,000 events/s × 10 µs = 1 core of work, at 60 %: 1.67 pods, so 2.
    expect(s.ingestPods).toBe(2);
    // × 80 µs = 8 cores: 13.3 pods, so 14.
    expect(s.ingestPodsSinglePuts).toBe(14);
    // × 9 µs = 0.9 core: 1.5 members, so 2.
    expect(s.projectorMembers).toBe(2);
    // No fewer than minReplicas however light the load: × 5 µs = 0.5 core, 0.83 member.
    expect(size(inputs, assumptions, target, 'heavy').projectorMembers).toBe(2);
  });

  it('writes rows after folding, and takes Postgres CPU and WAL per row', () => {
    const s = size(inputs, assumptions, target, 'uniform');
    expect(s.postgresRowsPerSecond).toBeCloseTo(100_000 * s.foldRatio, 6);
    expect(s.postgresCores).toBeCloseTo((s.postgresRowsPerSecond * 15) / 1e6 / 0.6, 6);
    expect(s.walMbPerSecond).toBeCloseTo((s.postgresRowsPerSecond * 300) / 1e6, 6);
    expect(s.postgresBusyConnections).toBeCloseTo(s.postgresRowsPerSecond / 25_000, 6);
  });

  it('keeps the read model, and the ids of the window, by their measured sizes', () => {
    const s = size(inputs, assumptions, target, 'zipf');
    expect(s.readModelGb).toBeCloseTo(2.5, 6);
    // 100,000 ids/s for an hour = 360 million ids at 125 MB per million, a row each.
    expect(s.eventIdsGb).toBeCloseTo(45, 6);
    expect(s.eventIdRowsPerSecond).toBe(100_000);
    // × 12 µs = 1.2 cores: 2 members.
    expect(s.projectorMembersClientIds).toBe(2);
  });

  it('keeps every event: the topic grows by the day, and the brokers hold its history', () => {
    const s = size(inputs, assumptions, target, 'zipf');
    // 97 bytes × 100,000/s × a day × 3 copies.
    expect(s.kafkaTbPerDay).toBeCloseTo((97 * 100_000 * 86_400 * 3) / 1e12, 6);
    expect(s.kafkaStorageTb).toBeCloseTo(s.kafkaTbPerDay * 365, 6);
    // 917.8 TB over 4 TB disks filled to 60 %: 383 brokers, without tiered storage.
    expect(s.brokersForHistory).toBe(Math.ceil(s.kafkaStorageTb / 2.4));
    // The load itself: 100,000 × 20 µs × 3 copies / 60 % = 10 cores, 2 brokers; 3 copies.
    expect(s.brokers).toBe(3);
    expect(s.brokersBy).toBe('replication');
    // Every broker leads a partition at least.
    expect(s.partitions).toBeGreaterThanOrEqual(s.brokers);
    expect(s.partitions % 12).toBe(0);
  });

  it('takes at least as many brokers as copies', () => {
    const s = size(inputs, { ...assumptions, historyDays: 1 }, target, 'zipf');
    expect(s.brokers).toBe(3);
    expect(s.brokersBy).toBe('replication');
    expect(s.partitions).toBe(24);
  });

  it('grows partitions with the projector members, twice as many, by twelves', () => {
    const heavy = { ...inputs, projectorUs: { zipf: 100, uniform: 100, heavy: 100 } };
    const s = size(heavy, { ...assumptions, historyDays: 1 }, target, 'zipf');
    // 10 cores of work at 60 %: 17 members, 34 partitions: 36.
    expect(s.projectorMembers).toBe(17);
    expect(s.partitions).toBe(36);
  });

  it('replays the whole history in a rebuild, one process at catch-up speed', () => {
    const s = size(inputs, assumptions, target, 'heavy');
    expect(s.rebuildEvents).toBe(100_000 * 86_400 * 365);
    // The heavy load folds to few rows: the process bounds it, at 200,000 events/s.
    expect(s.rebuildHours).toBeCloseTo(s.rebuildEvents / 200_000 / 3600, 6);
    expect(s.rebuildHoursPerMonth).toBeCloseTo((100_000 * 86_400 * 30) / 200_000 / 3600, 6);
  });

  it('says which limit of the primary is nearer', () => {
    const walHeavy = { ...inputs, walBytesPerRow: 10_000 };
    expect(size(walHeavy, assumptions, target, 'uniform').primaryLimit).toBe('WAL');
    const walLight = { ...inputs, walBytesPerRow: 10 };
    expect(size(walLight, assumptions, target, 'uniform').primaryLimit).toBe('CPU');
  });
});

describe('machineCapacity', () => {
  it('is the cores over the CPU an event costs in every part, Postgres at its fold', () => {
    const c = machineCapacity(inputs, assumptions, 2, 'uniform', 10_000_000);
    expect(c.usPerEvent).toBeCloseTo(10 + 20 + 9 + c.foldRatio * 15 + 5, 6);
    expect(c.eventsPerSecond).toBeCloseTo(2e6 / c.usPerEvent, 6);
  });
});
