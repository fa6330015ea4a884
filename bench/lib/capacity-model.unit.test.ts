import { ASSUMPTIONS } from './capacity-assumptions';
import {
  coresOf,
  fitPartCosts,
  foldRatio,
  leastSquares,
  machineCapacity,
  size,
  type Assumptions,
  type CostPart,
  type MeasuredInputs,
  type PartCost,
  type PhasePoint,
} from './capacity-model';

const cost = (fixedCores: number, coresPerMember: number, usPerUnit: number): PartCost => ({
  fixedCores,
  coresPerMember,
  usPerUnit,
});

const costs: Record<CostPart, PartCost> = {
  ingest: cost(0.2, 0, 10),
  kafka: cost(0.3, 0.05, 20),
  projector: cost(0, 0.1, 6),
  postgres: cost(0.1, 0.02, 15),
  other: cost(0.1, 0, 1),
};

const inputs: MeasuredInputs = {
  costs,
  ingestProcesses: 2,
  ingestPutUs: 80,
  projectorUs: { zipf: 6, uniform: 9, heavy: 5 },
  projectorClientIdUs: { zipf: 12, uniform: 14, heavy: 10 },
  catchUpEventsPerSecond: { zipf: 150_000, uniform: 80_000, heavy: 200_000 },
  clientIdSpeedRatios: { zipf: 0.5 },
  rowsPerSecondPerConnection: 25_000,
  walBytesPerRow: 300,
  bytesPerDomain: 250,
  measuredDomains: 800_000,
  mbPerMillionIds: 125,
  logBytesPerRecord: 100,
};

// The model's own assumptions: 3 copies, 365 days kept, 7 of them on the brokers' disks, 8
// cores and 4 TB per broker, pods of one core, at least 2 of each, 60 % busy, 250 ms flushes,
// an hour of ids, a 64-core primary and 200 MB/s of WAL.
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

describe('leastSquares', () => {
  it('recovers exact coefficients, and the best fit of noisy ones', () => {
    const X = [
      [1, 1],
      [1, 2],
      [1, 3],
    ];
    const [a, b] = leastSquares(X, [3, 5, 7]);
    expect(a).toBeCloseTo(1, 9);
    expect(b).toBeCloseTo(2, 9);
    // y = 0, 1, 1: the line 1/3 + x/2 is the least-squares fit.
    const [c, d] = leastSquares(X, [0, 1, 1]);
    expect(c).toBeCloseTo(-1 / 3, 9);
    expect(d).toBeCloseTo(0.5, 9);
  });

  it('refuses regressors that do not determine the coefficients', () => {
    expect(() => leastSquares([[1, 2]], [1])).toThrow('1 observations for 2 coefficients');
    expect(() =>
      leastSquares(
        [
          [1, 2],
          [2, 4],
          [3, 6],
        ],
        [1, 2, 3],
      ),
    ).toThrow('do not determine');
  });
});

describe('fitPartCosts', () => {
  const phase = (members: number, rate: number, rowsPerEvent: number): PhasePoint => ({
    members,
    eventsPerSecond: rate,
    rowsPerEvent,
    cores: {
      ingest: coresOf(costs.ingest, members, rate),
      kafka: coresOf(costs.kafka, members, rate),
      projector: coresOf(costs.projector, members, rate),
      postgres: coresOf(costs.postgres, members, rate * rowsPerEvent),
      other: coresOf(costs.other, members, rate),
    },
  });
  const phases = [
    phase(1, 10_000, 0.7),
    phase(1, 35_000, 0.56),
    phase(2, 10_000, 0.7),
    phase(2, 27_000, 0.64),
    phase(4, 10_000, 0.69),
    phase(4, 20_000, 0.67),
  ];

  it("recovers each part's fixed, per-member and per-event costs from the phases", () => {
    const fitted = fitPartCosts(phases);
    for (const part of Object.keys(costs) as CostPart[]) {
      expect(fitted[part].fixedCores).toBeCloseTo(costs[part].fixedCores, 6);
      expect(fitted[part].coresPerMember).toBeCloseTo(costs[part].coresPerMember, 6);
      expect(fitted[part].usPerUnit).toBeCloseTo(costs[part].usPerUnit, 6);
    }
  });

  it('never gives a negative cost: a part that falls with members gets none per member', () => {
    const falling = phases.map((p) => ({
      ...p,
      cores: { ...p.cores, kafka: 0.5 - 0.01 * p.members + (p.eventsPerSecond * 20) / 1e6 },
    }));
    const fitted = fitPartCosts(falling).kafka;
    expect(fitted.coresPerMember).toBe(0);
    expect(fitted.fixedCores).toBeGreaterThan(0);
    expect(fitted.usPerUnit).toBeGreaterThan(0);
  });
});

describe('size', () => {
  it("sizes each scaled-out part as work over its pods' room: cores × utilization less their fixed cost", () => {
    const s = size(inputs, assumptions, target, 'uniform');
    // 100,000 events/s × 10 µs = 1 core of work; a pod has 0.6 − 0.1 (its share of the fixed
    // 0.2 of 2 processes) = 0.5 core of room: 2 pods.
    expect(s.ingestPods).toBe(2);
    // × 80 µs = 8 cores over 0.6 core: 13.3 pods, so 14.
    expect(s.ingestPodsSinglePuts).toBe(14);
    // × 9 µs = 0.9 core over 0.6 − 0.1 per member: 1.8 members, so 2, each 55 % busy.
    expect(s.projectorMembers).toBe(2);
    expect(s.projectorBusy).toBeCloseTo((0.1 * 2 + 0.9) / 2, 6);
    // No fewer than minReplicas however light the load: × 5 µs = 0.5 core, one member.
    expect(size(inputs, assumptions, target, 'heavy').projectorMembers).toBe(2);
  });

  it("sizes members with bench:scale's projector cost when it is dearer than catch-up's", () => {
    // bench:scale's fitted 12 µs against catch-up's 6 on the Zipf-like load: twice as dear,
    // so the uniform load's 9 µs counts as 18: 1.8 cores over 0.5 of room, 4 members.
    const dearer = { ...inputs, costs: { ...costs, projector: cost(0, 0.1, 12) } };
    expect(size(dearer, assumptions, target, 'uniform').projectorMembers).toBe(4);
    // A cheaper fitted cost never lowers catch-up's.
    const cheaper = { ...inputs, costs: { ...costs, projector: cost(0, 0.1, 3) } };
    expect(size(cheaper, assumptions, target, 'uniform').projectorMembers).toBe(2);
  });

  it('writes rows after folding, and takes Postgres CPU and WAL per row', () => {
    const s = size(inputs, assumptions, target, 'uniform');
    expect(s.postgresRowsPerSecond).toBeCloseTo(100_000 * s.foldRatio, 6);
    expect(s.postgresCores).toBeCloseTo(
      (0.1 + 0.02 * s.projectorMembers + (s.postgresRowsPerSecond * 15) / 1e6) / 0.6,
      6,
    );
    expect(s.walMbPerSecond).toBeCloseTo((s.postgresRowsPerSecond * 300) / 1e6, 6);
    expect(s.postgresBusyConnections).toBeCloseTo(s.postgresRowsPerSecond / 25_000, 6);
  });

  it('keeps the read model, and the ids of the window, by their measured sizes', () => {
    const s = size(inputs, assumptions, target, 'zipf');
    expect(s.readModelGb).toBeCloseTo(2.5, 6);
    // 100,000 ids/s for an hour = 360 million ids at 125 MB per million, a row each.
    expect(s.eventIdsGb).toBeCloseTo(45, 6);
    expect(s.eventIdRowsPerSecond).toBe(100_000);
    // × 12 µs = 1.2 cores over 0.5 core of room per member: 3 members.
    expect(s.projectorMembersClientIds).toBe(3);
    // Each load with its own cost with ids: uniform × 14 µs = 1.4 cores, 3 members.
    expect(size(inputs, assumptions, target, 'uniform').projectorMembersClientIds).toBe(3);
  });

  it('keeps every event: a week on the brokers, the rest in object storage', () => {
    const s = size(inputs, assumptions, target, 'zipf');
    // 100 bytes × 100,000/s × a day × 3 copies = 2.592 TB a day.
    expect(s.kafkaTbPerDay).toBeCloseTo(2.592, 6);
    // One copy of 365 days in object storage.
    expect(s.objectStorageTb).toBeCloseTo((2.592 / 3) * 365, 6);
    // 7 days × 2.592 TB over 4 TB disks filled to 60 %: 7.56, so 8 brokers.
    expect(s.brokers).toBe(8);
    expect(s.brokersBy).toBe('local disks');
    // Every broker leads a partition at least.
    expect(s.partitions).toBe(24);
  });

  it('without tiered storage, the brokers and the partitions grow with the whole history', () => {
    const s = size(inputs, assumptions, target, 'zipf');
    // 946 TB over 2.4 TB per disk: 395 brokers; each partition's 3 replicas within a disk
    // each: 132 partitions, 144 by twelves.
    expect(s.brokersWithoutTiering).toBe(Math.ceil((2.592 * 365) / 2.4));
    expect(s.partitionsWithoutTiering).toBe(
      Math.ceil(Math.ceil(s.brokersWithoutTiering / 3) / 12) * 12,
    );
    expect(s.partitionsWithoutTiering * 3).toBeGreaterThanOrEqual(s.brokersWithoutTiering);
  });

  it('takes at least as many brokers as copies', () => {
    const s = size(inputs, { ...assumptions, localRetentionDays: 1 }, target, 'zipf');
    expect(s.brokers).toBe(3);
    expect(s.brokersBy).toBe('replication');
    expect(s.partitions).toBe(24);
  });

  it('grows partitions with the projector members, twice as many, by twelves', () => {
    const slow = { ...inputs, projectorUs: { zipf: 100, uniform: 100, heavy: 100 } };
    const s = size(slow, { ...assumptions, localRetentionDays: 1 }, target, 'zipf');
    // 10 cores of work over 0.5 core of room: 20 members, 40 partitions: 48.
    expect(s.projectorMembers).toBe(20);
    expect(s.partitions).toBe(48);
  });

  it('replays the whole history in a rebuild, catching up with the events that keep arriving', () => {
    const s = size(inputs, assumptions, target, 'zipf');
    expect(s.rebuildEvents).toBe(100_000 * 86_400 * 365);
    expect(s.rebuildEventsPerSecond).toBe(150_000);
    // 150,000/s replayed while 100,000/s arrive: it gains 50,000 a second on the end.
    expect(s.rebuildHours).toBeCloseTo(s.rebuildEvents / 50_000 / 3600, 6);
    expect(s.rebuildHoursPerMonth).toBeCloseTo((100_000 * 86_400 * 30) / 50_000 / 3600, 6);
  });

  it('never finishes a rebuild that is not faster than the load', () => {
    // 80,000/s replayed against 100,000/s arriving.
    const s = size(inputs, assumptions, target, 'uniform');
    expect(s.rebuildHours).toBe(Infinity);
    expect(s.rebuildHoursPerMonth).toBe(Infinity);
  });

  it('says which limit of the primary is nearer', () => {
    const walHeavy = { ...inputs, walBytesPerRow: 10_000 };
    expect(size(walHeavy, assumptions, target, 'uniform').primaryLimit).toBe('WAL');
    const walLight = { ...inputs, walBytesPerRow: 10 };
    expect(size(walLight, assumptions, target, 'uniform').primaryLimit).toBe('CPU');
  });
});

describe('machineCapacity', () => {
  it('is the cores left after fixed and per-member costs over the cost of an event, Postgres at its fold', () => {
    const c = machineCapacity(costs, assumptions, 2, 4, 'uniform', 10_000_000);
    const fixed = 0.2 + (0.3 + 0.05 * 4) + 0.1 * 4 + (0.1 + 0.02 * 4) + 0.1;
    const usPerEvent = 10 + 20 + 6 + 1 + c.foldRatio * 15;
    expect(c.eventsPerSecond).toBeCloseTo(((2 - fixed) * 1e6) / usPerEvent, 6);
    // More members on the same cores take fewer events.
    expect(
      machineCapacity(costs, assumptions, 2, 8, 'uniform', 10_000_000).eventsPerSecond,
    ).toBeLessThan(c.eventsPerSecond);
  });
});
