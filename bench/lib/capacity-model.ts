import { events } from './workloads';

/** The workloads the model sizes for (bench/lib/workloads.ts). */
export const MODEL_WORKLOADS = ['zipf', 'uniform', 'heavy'] as const;
export type ModelWorkload = (typeof MODEL_WORKLOADS)[number];

/** Figures the benchmarks measured, each per event or per row of one part of the system. */
export interface MeasuredInputs {
  /**
   * Ingest API CPU µs per event: `POST /events` batches of 100 (bench:scale, its loaded
   * phases), and single `PUT`s (bench:ingest).
   */
  ingestBatchUs: number;
  ingestPutUs: number;
  /** Broker CPU µs per event, replication 1, the ingest API's transactions (bench:scale). */
  kafkaUs: number;
  /** Projector CPU µs per event at full speed, per workload (bench:catch-up). */
  projectorUs: Record<ModelWorkload, number>;
  /** The same, the Zipf-like load with every event carrying a client id (bench:catch-up). */
  projectorClientIdUs: number;
  /**
   * Read-model rows one Postgres connection upserts per second: bench:catch-up's ceiling on
   * the uniform load, where nearly every event is a row and Postgres bounds the ceiling.
   */
  rowsPerSecondPerConnection: number;
  /** Postgres CPU µs and WAL bytes per read-model row written (bench:scale, loaded phases). */
  postgresUsPerRow: number;
  walBytesPerRow: number;
  /** Read model bytes per domain, indexes included (bench:scale). */
  bytesPerDomain: number;
  /** Postgres MB per million event ids kept (bench:catch-up). */
  mbPerMillionIds: number;
  /** CPU µs per event of everything else on the benchmark machine (load generator, registry). */
  otherUs: number;
  /** Bytes of one event's Avro value (bench:ingest). */
  recordBytes: number;
}

/** What the model takes as given rather than measured; each is printed with the model. */
export interface Assumptions {
  replication: number;
  /**
   * Days of events the brokers' disks are sized for: the events topic keeps every event
   * (retention.ms -1), since a rebuild replays all of them.
   */
  historyDays: number;
  /** Bytes a record takes in a Kafka log besides its value (key, record and batch framing). */
  recordOverheadBytes: number;
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
  /** Brokers the load needs (CPU, copies, partitions), and what bounds them. */
  brokers: number;
  brokersBy: 'replication' | 'CPU' | 'partitions';
  /** Brokers whose local disks hold historyDays of events (without tiered storage). */
  brokersForHistory: number;
  partitions: number;
  /** Replicated bytes the events topic grows by a day, and holds after historyDays. */
  kafkaTbPerDay: number;
  kafkaStorageTb: number;
  ingestPods: number;
  ingestPodsSinglePuts: number;
  projectorMembers: number;
  postgresRowsPerSecond: number;
  /** Connections busy upserting all the time at the measured rate per connection. */
  postgresBusyConnections: number;
  postgresCores: number;
  walMbPerSecond: number;
  readModelGb: number;
  /** If every event carried a client id: rows the ids add per second, and their storage. */
  eventIdRowsPerSecond: number;
  eventIdsGb: number;
  /** Projector members if every event carried a client id. */
  projectorMembersClientIds: number;
  /** Events a rebuild replays after historyDays (every one), and its hours (see size). */
  rebuildEvents: number;
  rebuildHours: number;
  /** Hours of a rebuild per 30 days of history. */
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

const ceil = (x: number) => Math.max(1, Math.ceil(x - 1e-9));

/**
 * Sizes a deployment for `scenario` and one workload. Every part but the Postgres primary
 * scales out: units = work / (unit's cores × utilization), at least `minReplicas`. Brokers
 * for the load, and for the topic's history on their own disks. Partitions: twice the projector members and at least the
 * brokers, a multiple of 12, at least 24. The Postgres figures are for events without a
 * client id; the ids' rows and storage are given apart (their Postgres cost per row is not
 * measured by the benchmarks).
 */
export function size(
  inputs: MeasuredInputs,
  assumptions: Assumptions,
  scenario: Scenario,
  workload: ModelWorkload,
): Sizing {
  const a = assumptions;
  const rate = scenario.eventsPerSecond;
  const fold = foldRatio(workload, (rate * a.flushIntervalMs) / 1000, scenario.domains);
  const cores = (usPerEvent: number) => (rate * usPerEvent) / 1e6 / a.utilization;
  const members = (us: number) => Math.max(a.minReplicas, ceil(cores(us) / a.projectorPodCores));
  const projectorMembers = members(inputs.projectorUs[workload]);
  const bytesPerRecord = inputs.recordBytes + a.recordOverheadBytes;
  const kafkaTbPerDay = (rate * bytesPerRecord * 86_400 * a.replication) / 1e12;
  const kafkaStorageTb = kafkaTbPerDay * a.historyDays;
  const byDisk = ceil(kafkaStorageTb / (a.brokerDiskTb * a.utilization));
  const byCpu = ceil((cores(inputs.kafkaUs) * a.replication) / a.brokerCores);
  // Every broker leads a partition at least; members can double without adding partitions
  // (which would move domains between partitions).
  const by12 = (x: number) => Math.ceil(x / 12) * 12;
  const partitionsFor = (brokers: number) =>
    Math.max(24, by12(2 * projectorMembers), by12(brokers));
  const byCause = {
    replication: a.replication,
    CPU: byCpu,
    partitions: ceil((partitionsFor(byCpu) * a.replication) / a.partitionsPerBrokerMax),
  };
  const brokersBy = (Object.keys(byCause) as (keyof typeof byCause)[]).reduce((best, k) =>
    byCause[k] > byCause[best] ? k : best,
  );
  const partitions = partitionsFor(byCause[brokersBy]);
  const rows = rate * fold;
  const postgresCores = (rows * inputs.postgresUsPerRow) / 1e6 / a.utilization;
  const walMbPerSecond = (rows * inputs.walBytesPerRow) / 1e6;
  const cpuShare = postgresCores / a.postgresMaxCores;
  const walShare = walMbPerSecond / (a.postgresMaxWalMbPerSecond * a.utilization);
  // A rebuild is one `replay rebuild` process: one core at the projector's catch-up speed,
  // unless the primary's cores (at the steady fold, an upper bound of the rows) or its WAL
  // rate are used up first.
  const rebuildEvents = rate * 86_400 * a.historyDays;
  const rebuildRate = Math.min(
    1e6 / inputs.projectorUs[workload],
    (a.postgresMaxCores * a.utilization * 1e6) / (fold * inputs.postgresUsPerRow),
    (a.postgresMaxWalMbPerSecond * a.utilization * 1e6) / (fold * inputs.walBytesPerRow),
  );
  return {
    workload,
    foldRatio: fold,
    brokers: byCause[brokersBy],
    brokersBy,
    brokersForHistory: Math.max(byCause[brokersBy], byDisk),
    partitions,
    kafkaTbPerDay,
    kafkaStorageTb,
    ingestPods: Math.max(a.minReplicas, ceil(cores(inputs.ingestBatchUs) / a.ingestPodCores)),
    ingestPodsSinglePuts: Math.max(
      a.minReplicas,
      ceil(cores(inputs.ingestPutUs) / a.ingestPodCores),
    ),
    projectorMembers,
    postgresRowsPerSecond: rows,
    postgresBusyConnections: rows / inputs.rowsPerSecondPerConnection,
    postgresCores,
    walMbPerSecond,
    readModelGb: (scenario.domains * inputs.bytesPerDomain) / 1e9,
    eventIdRowsPerSecond: rate,
    eventIdsGb: (rate * a.dedupeWindowS * inputs.mbPerMillionIds) / 1e9,
    projectorMembersClientIds: members(inputs.projectorClientIdUs),
    rebuildEvents,
    rebuildHours: rebuildEvents / rebuildRate / 3600,
    rebuildHoursPerMonth: (rate * 86_400 * 30) / rebuildRate / 3600,
    primaryShare: Math.max(cpuShare, walShare),
    primaryLimit: cpuShare >= walShare ? 'CPU' : 'WAL',
  };
}

/**
 * The events/s a machine of `cores` takes when every part shares it (the multi-process
 * benchmark's setting): its cores over the CPU one event costs in all parts, the Postgres
 * part depending on the fold at that rate (found by iterating from `start`).
 */
export function machineCapacity(
  inputs: MeasuredInputs,
  assumptions: Assumptions,
  cores: number,
  workload: ModelWorkload,
  domains: number,
  start = 10_000,
): { eventsPerSecond: number; usPerEvent: number; foldRatio: number } {
  let rate = start;
  let fold = 1;
  let usPerEvent = 0;
  for (let i = 0; i < 6; i += 1) {
    fold = foldRatio(workload, (rate * assumptions.flushIntervalMs) / 1000, domains);
    usPerEvent =
      inputs.ingestBatchUs +
      inputs.kafkaUs +
      inputs.projectorUs[workload] +
      fold * inputs.postgresUsPerRow +
      inputs.otherUs;
    rate = (cores * 1e6) / usPerEvent;
  }
  return { eventsPerSecond: rate, usPerEvent, foldRatio: fold };
}
