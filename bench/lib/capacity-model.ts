import { events } from './workloads';

/** The workloads the model sizes for (bench/lib/workloads.ts). */
export const MODEL_WORKLOADS = ['zipf', 'uniform', 'heavy'] as const;
export type ModelWorkload = (typeof MODEL_WORKLOADS)[number];

/** Figures the benchmarks measured, each per event or per row of one part of the system. */
export interface MeasuredInputs {
  /** Ingest API CPU µs per event: `POST /events` batches, and single `PUT`s (bench:ingest). */
  ingestBatchUs: number;
  ingestPutUs: number;
  /** Broker CPU µs per event, replication 1, the ingest API's transactions (bench:scale). */
  kafkaUs: number;
  /** Projector CPU µs per event at full speed, per workload (bench:catch-up). */
  projectorUs: Record<ModelWorkload, number>;
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
  retentionDays: number;
  /** Bytes a record takes in a Kafka log besides its value (key, record and batch framing). */
  recordOverheadBytes: number;
  brokerCores: number;
  brokerDiskTb: number;
  /** Partitions one broker leads at most, replicas included, before its controller work grows. */
  partitionsPerBrokerMax: number;
  ingestPodCores: number;
  projectorPodCores: number;
  /** Partitions a projector member flushes concurrently (PARTITIONS_CONCURRENCY). */
  partitionsPerMember: number;
  /** The CPU share every part is sized for, leaving room for spikes and a lost node. */
  utilization: number;
  /** FLUSH_INTERVAL_MS: a partition's events fold for this long before they are written. */
  flushIntervalMs: number;
  /** DEDUPE_WINDOW_S, and the share of events that carry an id the client chose. */
  dedupeWindowS: number;
  clientIdShare: number;
  /** The largest Postgres primary considered, and the WAL rate it can ship to its standbys. */
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
  brokers: number;
  brokersBy: 'replication' | 'CPU' | 'disk' | 'partitions';
  partitions: number;
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
  eventIdsGb: number;
  /** Events a rebuild replays (the topic's retention), and its hours (see size). */
  rebuildEvents: number;
  rebuildHours: number;
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
 * scales out: units = work / (unit's cores × utilization). Partitions are twice the
 * projector members (members can double without adding partitions, which would move domains
 * between partitions), a multiple of 12, at least 24.
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
  const projectorMembers = ceil(cores(inputs.projectorUs[workload]) / a.projectorPodCores);
  const partitions = Math.max(24, Math.ceil((2 * projectorMembers) / 12) * 12);
  const bytesPerRecord = inputs.recordBytes + a.recordOverheadBytes;
  const kafkaStorageTb = (rate * bytesPerRecord * 86_400 * a.retentionDays * a.replication) / 1e12;
  const byCause = {
    replication: a.replication,
    CPU: ceil((cores(inputs.kafkaUs) * a.replication) / a.brokerCores),
    disk: ceil(kafkaStorageTb / (a.brokerDiskTb * a.utilization)),
    partitions: ceil((partitions * a.replication) / a.partitionsPerBrokerMax),
  };
  const brokersBy = (Object.keys(byCause) as (keyof typeof byCause)[]).reduce((best, k) =>
    byCause[k] > byCause[best] ? k : best,
  );
  const rows = rate * fold;
  const postgresCores = (rows * inputs.postgresUsPerRow) / 1e6 / a.utilization;
  const walMbPerSecond = (rows * inputs.walBytesPerRow) / 1e6;
  const cpuShare = postgresCores / a.postgresMaxCores;
  // A rebuild replays the retained topic with a member per partition, each at its catch-up
  // speed, unless the primary's cores (at the steady fold, an upper bound of the rows) or its
  // WAL rate are used up first.
  const rebuildEvents = rate * 86_400 * a.retentionDays;
  const rebuildRate = Math.min(
    (partitions * a.projectorPodCores * 1e6) / inputs.projectorUs[workload],
    (a.postgresMaxCores * a.utilization * 1e6) / (fold * inputs.postgresUsPerRow),
    (a.postgresMaxWalMbPerSecond * 1e6) / (fold * inputs.walBytesPerRow),
  );
  const walShare = walMbPerSecond / a.postgresMaxWalMbPerSecond;
  return {
    workload,
    foldRatio: fold,
    brokers: byCause[brokersBy],
    brokersBy,
    partitions,
    kafkaStorageTb,
    ingestPods: ceil(cores(inputs.ingestBatchUs) / a.ingestPodCores),
    ingestPodsSinglePuts: ceil(cores(inputs.ingestPutUs) / a.ingestPodCores),
    projectorMembers,
    postgresRowsPerSecond: rows,
    postgresBusyConnections: rows / inputs.rowsPerSecondPerConnection,
    postgresCores,
    walMbPerSecond,
    readModelGb: (scenario.domains * inputs.bytesPerDomain) / 1e9,
    eventIdsGb: (rate * a.dedupeWindowS * a.clientIdShare * inputs.mbPerMillionIds) / 1e9,
    rebuildEvents,
    rebuildHours: rebuildEvents / rebuildRate / 3600,
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
