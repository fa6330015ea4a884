import { events } from './workloads';

/** The workloads the model sizes for (bench/lib/workloads.ts). */
export const MODEL_WORKLOADS = ['zipf', 'uniform', 'heavy'] as const;
export type ModelWorkload = (typeof MODEL_WORKLOADS)[number];

/**
 * The CPU one part of the system uses, in cores: `fixedCores` whatever the load (for the
 * whole part as measured), `coresPerMember` for each projector member of the consumer group
 * (fetches, heartbeats, transactions of its own), and `usPerUnit` µs for each event (each
 * read-model row for Postgres).
 */
export interface PartCost {
  fixedCores: number;
  coresPerMember: number;
  usPerUnit: number;
}

/** The parts bench:scale measures apart; `other` is the load generator and the registry. */
export const COST_PARTS = ['ingest', 'kafka', 'projector', 'postgres', 'other'] as const;
export type CostPart = (typeof COST_PARTS)[number];

/** One loaded phase of bench:scale: its load, its members, and the cores each part used. */
export interface PhasePoint {
  members: number;
  eventsPerSecond: number;
  rowsPerEvent: number;
  cores: Record<CostPart, number>;
}

/** Figures the benchmarks measured. */
export interface MeasuredInputs {
  /** Each part's cost, fitted over bench:scale's loaded phases (see `fitPartCosts`). */
  costs: Record<CostPart, PartCost>;
  /** Ingest API processes bench:scale ran: its ingest `fixedCores` are theirs together. */
  ingestProcesses: number;
  /** Ingest API CPU µs per event of single `PUT`s, one process at its most loaded (bench:ingest). */
  ingestPutUs: number;
  /** Projector CPU µs per event at full speed, per workload (bench:catch-up). */
  projectorUs: Record<ModelWorkload, number>;
  /** The same, every event carrying a client id, per workload (bench:catch-up). */
  projectorClientIdUs: Record<ModelWorkload, number>;
  /** Catch-up events/s as measured (bench:catch-up, every part sharing its machine). */
  catchUpEventsPerSecond: Record<ModelWorkload, number>;
  /** Catch-up with client ids over the same load without, per workload measured (bench:catch-up). */
  clientIdSpeedRatios: Partial<Record<ModelWorkload, number>>;
  /** bench:catch-up's Postgres ceiling on the uniform load, rows/s, over its connections. */
  rowsPerSecondPerConnection: number;
  /** WAL bytes per read-model row written (bench:scale, loaded phases). */
  walBytesPerRow: number;
  /** Read model bytes per domain, indexes included, and over how many domains (bench:scale). */
  bytesPerDomain: number;
  measuredDomains: number;
  /** Postgres MB per million event ids kept (bench:catch-up). */
  mbPerMillionIds: number;
  /** Bytes one event takes in the topic's log files, framing and key included (bench:scale). */
  logBytesPerRecord: number;
}

/** What the model takes as given rather than measured; each is printed with the model. */
export interface Assumptions {
  replication: number;
  /**
   * Days of events the topic keeps: every event (retention.ms -1), since a rebuild replays
   * all of them; with tiered storage (KIP-405) in object storage, one copy.
   */
  historyDays: number;
  /** Days the brokers keep on their own disks with tiered storage (`local.retention.ms`). */
  localRetentionDays: number;
  brokerCores: number;
  brokerDiskTb: number;
  /** Partitions one broker leads at most, replicas included, before its controller work grows. */
  partitionsPerBrokerMax: number;
  ingestPodCores: number;
  projectorPodCores: number;
  /** Ingest pods and projector members at least, whatever the load: one may fail. */
  minReplicas: number;
  /** The CPU share every part is sized for, leaving room for spikes and a lost node. */
  utilization: number;
  /** FLUSH_INTERVAL_MS: a partition's events fold for this long before they are written. */
  flushIntervalMs: number;
  /** DEDUPE_WINDOW_S: how long the ids of events that carry a client id are kept. */
  dedupeWindowS: number;
  /**
   * The largest Postgres primary considered, and the WAL rate it can ship to its standbys
   * (both used up to `utilization`).
   */
  postgresMaxCores: number;
  postgresMaxWalMbPerSecond: number;
}

export interface Scenario {
  name: string;
  eventsPerSecond: number;
  domains: number;
}

/** What a scenario needs for one workload. */
export interface Sizing {
  workload: ModelWorkload;
  foldRatio: number;
  /** Brokers for the load and the local part of the history, and what bounds them. */
  brokers: number;
  brokersBy: 'replication' | 'CPU' | 'partitions' | 'local disks';
  /** Broker cores the load needs in all, at the utilization (less than brokers × brokerCores
   * when disks or copies set the count). */
  brokerCoresNeeded: number;
  /** Partitions this workload needs: twice its members, at least the brokers, 24 at least. */
  partitions: number;
  /** Without tiered storage: brokers whose disks hold the whole history, and the partitions
   * that spreads over (each partition replica within one disk). */
  brokersWithoutTiering: number;
  partitionsWithoutTiering: number;
  /** Replicated TB the topic grows by a day; one copy of historyDays in object storage. */
  kafkaTbPerDay: number;
  objectStorageTb: number;
  ingestPods: number;
  ingestPodsSinglePuts: number;
  projectorMembers: number;
  /** Busy share of the members at this load (projector cores over members). */
  projectorBusy: number;
  postgresRowsPerSecond: number;
  /** Connections busy upserting all the time at the measured rate per connection. */
  postgresBusyConnections: number;
  postgresCores: number;
  walMbPerSecond: number;
  /**
   * The same if every event carried a client id, an id's row costed as a read-model row (CPU
   * and WAL; not measured apart): an estimate, and the primary's share then.
   */
  postgresCoresWithIds: number;
  walMbPerSecondWithIds: number;
  primaryShareWithIds: number;
  readModelGb: number;
  /** If every event carried a client id: rows the ids add per second, and their storage. */
  eventIdRowsPerSecond: number;
  eventIdsGb: number;
  /** Projector members if every event carried a client id, and their busy share. */
  projectorMembersClientIds: number;
  projectorBusyClientIds: number;
  /**
   * A rebuild: events it replays after historyDays, its events/s, and the hours until it has
   * caught up with the topic's end, while events keep arriving at the scenario's rate:
   * history / (rebuild rate − arrival rate); Infinity when it is not faster than the load.
   * Per 30 days of history, and after historyDays.
   */
  rebuildEvents: number;
  rebuildEventsPerSecond: number;
  rebuildHours: number;
  rebuildHoursPerMonth: number;
  /** The largest share of a hard limit of one Postgres primary (CPU or WAL), and which. */
  primaryShare: number;
  primaryLimit: 'CPU' | 'WAL';
}

/**
 * Rows written per event when events fold for one flush interval: the distinct domains of
 * `eventsPerFlush` consecutive events of the workload over `domains`, divided by the events,
 * the mean of `windows` windows. A domain lives on one partition, so the sum over partitions
 * is the distinct count of the whole window.
 */
export function foldRatio(
  workload: ModelWorkload,
  eventsPerFlush: number,
  domains: number,
  windows = 4,
): number {
  const n = Math.max(1, Math.round(eventsPerFlush));
  let ratio = 0;
  for (let w = 0; w < windows; w += 1) {
    const seen = new Set<string>();
    for (const [domain] of events(workload, n, 101 + w, domains)) seen.add(domain);
    ratio += seen.size / n;
  }
  return ratio / windows;
}

/**
 * Ordinary least squares: the coefficients `b` minimising |X·b − y|² (normal equations,
 * Gaussian elimination with partial pivoting). `X` is one row of regressors per observation.
 * Throws when the regressors do not determine the coefficients (too few observations, or a
 * column that is a multiple of another).
 */
export function leastSquares(X: number[][], y: number[]): number[] {
  const k = X[0]?.length ?? 0;
  if (X.length < k || k === 0) {
    throw new Error(`least squares: ${X.length} observations for ${k} coefficients`);
  }
  const a = Array.from({ length: k }, (_, i) => [
    ...Array.from({ length: k }, (_, j) => X.reduce((s, row) => s + row[i]! * row[j]!, 0)),
    X.reduce((s, row, r) => s + row[i]! * y[r]!, 0),
  ]);
  for (let c = 0; c < k; c += 1) {
    const pivot = a
      .slice(c)
      .reduce((best, row, i) => (Math.abs(row[c]!) > Math.abs(a[best]![c]!) ? c + i : best), c);
    [a[c], a[pivot]] = [a[pivot]!, a[c]!];
    const scale = Math.max(...a.map((row) => Math.abs(row[c]!)));
    if (Math.abs(a[c]![c]!) <= 1e-12 * scale) {
      throw new Error('least squares: the regressors do not determine the coefficients');
    }
    for (let r = 0; r < k; r += 1) {
      if (r === c) continue;
      const f = a[r]![c]! / a[c]![c]!;
      for (let j = c; j <= k; j += 1) a[r]![j]! -= f * a[c]![j]!;
    }
  }
  return a.map((row, i) => row[k]! / row[i]!);
}

/**
 * Least squares with every coefficient at least 0: a negative one is set to 0 and the rest
 * fitted again (a cost is never negative; noise in a short run can make it so).
 */
function nonNegative(X: number[][], y: number[]): number[] {
  const active = X[0]!.map(() => true);
  for (;;) {
    const columns = active.flatMap((on, i) => (on ? [i] : []));
    const fitted = leastSquares(
      X.map((row) => columns.map((i) => row[i]!)),
      y,
    );
    const b = X[0]!.map(() => 0);
    columns.forEach((i, at) => (b[i] = fitted[at]!));
    const worst = b.reduce((w, v, i) => (v < b[w]! ? i : w), 0);
    if (b[worst]! >= 0) return b;
    active[worst] = false;
  }
}

/**
 * Each part's cost fitted over bench:scale's loaded phases, by least squares on the cores it
 * used: the ingest API and the rest (`other`) as fixed + per event; the projector as per
 * member + per event; Kafka as fixed + per member + per event; Postgres as fixed + per member
 * + per row. Needs at least 3 phases with at least 2 member counts and 2 loads.
 */
export function fitPartCosts(phases: PhasePoint[]): Record<CostPart, PartCost> {
  const fit = (
    part: CostPart,
    regressors: (p: PhasePoint) => number[],
    names: (keyof PartCost)[],
  ) => {
    const b = nonNegative(
      phases.map(regressors),
      phases.map((p) => p.cores[part]),
    );
    const cost: PartCost = { fixedCores: 0, coresPerMember: 0, usPerUnit: 0 };
    names.forEach((name, i) => (cost[name] = name === 'usPerUnit' ? b[i]! * 1e6 : b[i]!));
    return cost;
  };
  const perEvent = (p: PhasePoint) => p.eventsPerSecond;
  return {
    ingest: fit('ingest', (p) => [1, perEvent(p)], ['fixedCores', 'usPerUnit']),
    other: fit('other', (p) => [1, perEvent(p)], ['fixedCores', 'usPerUnit']),
    projector: fit('projector', (p) => [p.members, perEvent(p)], ['coresPerMember', 'usPerUnit']),
    kafka: fit('kafka', (p) => [1, p.members, perEvent(p)], [
      'fixedCores',
      'coresPerMember',
      'usPerUnit',
    ]),
    postgres: fit('postgres', (p) => [1, p.members, p.eventsPerSecond * p.rowsPerEvent], [
      'fixedCores',
      'coresPerMember',
      'usPerUnit',
    ]),
  };
}

/** Cores a part uses with `members` projector members at `unitsPerSecond`. */
export function coresOf(cost: PartCost, members: number, unitsPerSecond: number): number {
  return cost.fixedCores + cost.coresPerMember * members + (cost.usPerUnit * unitsPerSecond) / 1e6;
}

const ceil = (x: number) => Math.max(1, Math.ceil(x - 1e-9));

/**
 * How much dearer an event is for the projector in bench:scale (its fitted cost per event,
 * the Zipf-like load, members sharing the machine) than in bench:catch-up (one member at full
 * speed, the same load); 1 when it is not dearer. The members are sized with catch-up's cost
 * per workload times this.
 */
export function projectorCostFactor(inputs: MeasuredInputs): number {
  return Math.max(1, inputs.costs.projector.usPerUnit / inputs.projectorUs.zipf);
}
const by12 = (x: number) => Math.ceil(x / 12) * 12;

/**
 * Pods for `unitsPerSecond` when each pod of `podCores` is used up to `utilization` and costs
 * `fixedPerPod` cores of its own plus `usPerUnit` per unit; at least `min`. Throws when the
 * fixed cost alone fills a pod.
 */
function podsFor(
  unitsPerSecond: number,
  usPerUnit: number,
  fixedPerPod: number,
  podCores: number,
  utilization: number,
  min: number,
): number {
  const room = podCores * utilization - fixedPerPod;
  if (room <= 0) throw new Error(`a pod's fixed cost (${fixedPerPod} cores) fills it`);
  return Math.max(min, ceil((unitsPerSecond * usPerUnit) / 1e6 / room));
}

/**
 * Sizes a deployment for `scenario` and one workload. Every part but the Postgres primary
 * scales out: units = work / (unit's cores × utilization, less its own fixed cost), at least
 * `minReplicas`. The projector's cost per event is bench:catch-up's for the workload, its
 * cost per member bench:scale's. Brokers for the load and for `localRetentionDays` on their
 * disks, the history beyond in object storage (tiered storage, KIP-405); without it, the
 * brokers and partitions the whole history on local disks needs. Partitions: twice the
 * members and at least the brokers, a multiple of 12, at least 24. The Postgres figures are
 * for events without a client id; the ids' rows and storage are given apart (their Postgres
 * cost per row is not measured by the benchmarks).
 */
export function size(
  inputs: MeasuredInputs,
  assumptions: Assumptions,
  scenario: Scenario,
  workload: ModelWorkload,
): Sizing {
  const a = assumptions;
  const { costs } = inputs;
  const rate = scenario.eventsPerSecond;
  const fold = foldRatio(workload, (rate * a.flushIntervalMs) / 1000, scenario.domains);
  const rows = rate * fold;
  // Catch-up's cost per event for each workload, raised by as much as bench:scale's fitted
  // cost for the Zipf-like load exceeds catch-up's (never lowered): the dearer of the two.
  const projectorFactor = projectorCostFactor(inputs);
  const membersAt = (us: number) =>
    podsFor(
      rate,
      us,
      costs.projector.coresPerMember,
      a.projectorPodCores,
      a.utilization,
      a.minReplicas,
    );
  const busyOf = (us: number, members: number) =>
    (costs.projector.coresPerMember * members + (rate * us) / 1e6) /
    (members * a.projectorPodCores);
  const projectorUs = inputs.projectorUs[workload] * projectorFactor;
  const projectorIdsUs = inputs.projectorClientIdUs[workload] * projectorFactor;
  const projectorMembers = membersAt(projectorUs);
  const membersIds = membersAt(projectorIdsUs);

  const gbPerDay = (rate * inputs.logBytesPerRecord * 86_400) / 1e9;
  const kafkaTbPerDay = (gbPerDay * a.replication) / 1e3;
  const diskTb = a.brokerDiskTb * a.utilization;
  // Followers fetch and write every record as the leader does: the cost per event times the
  // replication factor; each member's fetches land on the leaders.
  const byLocal = ceil((kafkaTbPerDay * a.localRetentionDays) / diskTb);
  // The measured fixed cost is one broker's: each broker pays it (at least the copies, or
  // the brokers the local disks need).
  const kafkaCores =
    (costs.kafka.fixedCores * Math.max(a.replication, byLocal) +
      costs.kafka.coresPerMember * projectorMembers +
      (costs.kafka.usPerUnit * rate * a.replication) / 1e6) /
    a.utilization;
  const partitionsFor = (brokers: number) =>
    Math.max(24, by12(2 * projectorMembers), by12(brokers));
  const byCpu = ceil(kafkaCores / a.brokerCores);
  const byCause = {
    replication: a.replication,
    CPU: byCpu,
    'local disks': byLocal,
    partitions: ceil(
      (partitionsFor(Math.max(byCpu, byLocal)) * a.replication) / a.partitionsPerBrokerMax,
    ),
  };
  const brokersBy = (Object.keys(byCause) as (keyof typeof byCause)[]).reduce((best, k) =>
    byCause[k] > byCause[best] ? k : best,
  );
  const historyTb = kafkaTbPerDay * a.historyDays;
  const brokersWithoutTiering = Math.max(byCause[brokersBy], ceil(historyTb / diskTb));

  const postgresCores = coresOf(costs.postgres, projectorMembers, rows) / a.utilization;
  const walMbPerSecond = (rows * inputs.walBytesPerRow) / 1e6;
  const cpuShare = postgresCores / a.postgresMaxCores;
  const walShare = walMbPerSecond / (a.postgresMaxWalMbPerSecond * a.utilization);
  const postgresCoresWithIds =
    coresOf(costs.postgres, projectorMembers, rows + rate) / a.utilization;
  const walMbPerSecondWithIds = ((rows + rate) * inputs.walBytesPerRow) / 1e6;
  // A rebuild is one `replay rebuild` process: at most what bench:catch-up measured, and no
  // faster than the primary's cores or WAL take its rows (at the steady fold, an upper bound).
  const rebuildEventsPerSecond = Math.min(
    inputs.catchUpEventsPerSecond[workload],
    (a.postgresMaxCores * a.utilization * 1e6) / (fold * costs.postgres.usPerUnit),
    (a.postgresMaxWalMbPerSecond * a.utilization * 1e6) / (fold * inputs.walBytesPerRow),
  );
  const rebuildEvents = rate * 86_400 * a.historyDays;
  const catchUpHours = (backlog: number) =>
    rebuildEventsPerSecond > rate ? backlog / (rebuildEventsPerSecond - rate) / 3600 : Infinity;
  return {
    workload,
    foldRatio: fold,
    brokers: byCause[brokersBy],
    brokersBy,
    brokerCoresNeeded: kafkaCores,
    partitions: partitionsFor(byCause[brokersBy]),
    brokersWithoutTiering,
    partitionsWithoutTiering: Math.max(
      partitionsFor(byCause[brokersBy]),
      by12(Math.ceil(brokersWithoutTiering / a.replication)),
    ),
    kafkaTbPerDay,
    objectStorageTb: (gbPerDay * a.historyDays) / 1e3,
    ingestPods: podsFor(
      rate,
      costs.ingest.usPerUnit,
      costs.ingest.fixedCores / inputs.ingestProcesses,
      a.ingestPodCores,
      a.utilization,
      a.minReplicas,
    ),
    ingestPodsSinglePuts: podsFor(
      rate,
      inputs.ingestPutUs,
      0,
      a.ingestPodCores,
      a.utilization,
      a.minReplicas,
    ),
    projectorMembers,
    projectorBusy: busyOf(projectorUs, projectorMembers),
    postgresRowsPerSecond: rows,
    postgresBusyConnections: rows / inputs.rowsPerSecondPerConnection,
    postgresCores,
    walMbPerSecond,
    postgresCoresWithIds,
    walMbPerSecondWithIds,
    primaryShareWithIds: Math.max(
      postgresCoresWithIds / a.postgresMaxCores,
      walMbPerSecondWithIds / (a.postgresMaxWalMbPerSecond * a.utilization),
    ),
    readModelGb: (scenario.domains * inputs.bytesPerDomain) / 1e9,
    eventIdRowsPerSecond: rate,
    eventIdsGb: (rate * a.dedupeWindowS * inputs.mbPerMillionIds) / 1e9,
    projectorMembersClientIds: membersIds,
    projectorBusyClientIds: busyOf(projectorIdsUs, membersIds),
    rebuildEvents,
    rebuildEventsPerSecond,
    rebuildHours: catchUpHours(rebuildEvents),
    rebuildHoursPerMonth: catchUpHours(rate * 86_400 * 30),
    primaryShare: Math.max(cpuShare, walShare),
    primaryLimit: cpuShare >= walShare ? 'CPU' : 'WAL',
  };
}

/**
 * The events/s a machine takes when every part shares `cores` (the multi-process benchmark's
 * setting) with `members` projector members: the cores less every part's fixed and
 * per-member costs, over the cost of one event in all parts, the Postgres part depending on
 * the fold at that rate (found by iterating from `start`).
 */
export function machineCapacity(
  costs: Record<CostPart, PartCost>,
  assumptions: Assumptions,
  cores: number,
  members: number,
  workload: ModelWorkload,
  domains: number,
  start = 10_000,
): { eventsPerSecond: number; foldRatio: number } {
  let rate = start;
  let fold = 1;
  const fixed = COST_PARTS.reduce((s, p) => s + coresOf(costs[p], members, 0), 0);
  for (let i = 0; i < 6; i += 1) {
    fold = foldRatio(workload, (rate * assumptions.flushIntervalMs) / 1000, domains);
    const usPerEvent =
      costs.ingest.usPerUnit +
      costs.kafka.usPerUnit +
      costs.projector.usPerUnit +
      costs.other.usPerUnit +
      fold * costs.postgres.usPerUnit;
    rate = Math.max(0, ((cores - fixed) * 1e6) / usPerEvent);
  }
  return { eventsPerSecond: rate, foldRatio: fold };
}
