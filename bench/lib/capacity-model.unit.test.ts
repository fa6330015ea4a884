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
  rowsPerSecondPerConnection: 25_000,
  postgresUsPerRow: 15,
  walBytesPerRow: 300,
  bytesPerDomain: 250,
  mbPerMillionIds: 125,
  otherUs: 5,
  recordBytes: 67,
};

const assumptions: Assumptions = {
  replication: 3,
  retentionDays: 7,
  recordOverheadBytes: 30,
  brokerCores: 8,
  brokerDiskTb: 4,
  partitionsPerBrokerMax: 4000,
  ingestPodCores: 1,
  projectorPodCores: 1,
  partitionsPerMember: 4,
  utilization: 0.6,
  flushIntervalMs: 250,
  dedupeWindowS: 3600,
  clientIdShare: 1,
  postgresMaxCores: 64,
  postgresMaxWalMbPerSecond: 200,
};

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
    expect(s.partitions).toBe(24);
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
    // 100,000 ids/s for an hour = 360 million ids at 125 MB per million.
    expect(s.eventIdsGb).toBeCloseTo(45, 6);
    // 97 bytes × 100,000/s × 7 days × 3 copies.
    expect(s.kafkaStorageTb).toBeCloseTo((97 * 100_000 * 86_400 * 7 * 3) / 1e12, 6);
  });

  it('takes at least as many brokers as copies, and more when their disks fill', () => {
    const s = size(inputs, assumptions, target, 'zipf');
    expect(s.brokers).toBeGreaterThanOrEqual(3);
    // 17.6 TB over 4 TB disks filled to 60 %: 8 brokers.
    expect(s.brokers).toBe(8);
    expect(s.brokersBy).toBe('disk');
  });

  it('grows partitions with the projector members, twice as many, by twelves', () => {
    const heavy = { ...inputs, projectorUs: { zipf: 100, uniform: 100, heavy: 100 } };
    const s = size(heavy, assumptions, target, 'zipf');
    // 10 cores of work at 60 %: 17 members, 34 partitions: 36.
    expect(s.projectorMembers).toBe(17);
    expect(s.partitions).toBe(36);
  });

  it('replays the retained topic in a rebuild, a member per partition at catch-up speed', () => {
    const s = size(inputs, assumptions, target, 'heavy');
    expect(s.rebuildEvents).toBe(100_000 * 86_400 * 7);
    // The heavy load folds to few rows: the members bound it, 24 at 200,000 events/s each.
    expect(s.rebuildHours).toBeCloseTo(s.rebuildEvents / (24 * 200_000) / 3600, 6);
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
