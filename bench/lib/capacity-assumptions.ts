import type { Assumptions } from './capacity-model';

/** What the capacity model takes as given (`npm run capacity` prints each with its text). */
export const ASSUMPTIONS: Assumptions = {
  replication: 3,
  historyDays: 365,
  localRetentionDays: 7,
  brokerCores: 8,
  brokerDiskTb: 4,
  partitionsPerBrokerMax: 4000,
  ingestPodCores: 1,
  projectorPodCores: 1,
  minReplicas: 2,
  utilization: 0.6,
  flushIntervalMs: 250,
  dedupeWindowS: 3600,
  postgresMaxCores: 64,
  postgresMaxWalMbPerSecond: 200,
};

/** Each assumption said in words, for the model's document. */
export const ASSUMPTION_TEXT: Record<keyof Assumptions, string> = {
  replication: 'Kafka replication factor (and `min.insync.replicas` 2)',
  historyDays:
    'days of events the topic holds: it keeps every event (`retention.ms` -1), since a rebuild replays them all',
  localRetentionDays:
    "days the brokers keep on their own disks (`local.retention.ms`); older segments live in object storage, one copy, by Kafka's tiered storage (KIP-405, production-ready since Kafka 3.9), which the model requires",
  brokerCores: 'cores per Kafka broker',
  brokerDiskTb: 'disk per Kafka broker, TB (filled to the utilization below)',
  partitionsPerBrokerMax: 'partition replicas per broker at most',
  ingestPodCores: 'cores per ingest API pod (one process)',
  projectorPodCores: 'cores per projector member',
  minReplicas: 'ingest pods and projector members at least, whatever the load (one may fail)',
  utilization: 'CPU share every part is sized for (room for spikes, a lost node, a rebalance)',
  flushIntervalMs:
    '`FLUSH_INTERVAL_MS`: events of a partition fold this long before they are written',
  dedupeWindowS: '`DEDUPE_WINDOW_S`: how long event ids are kept',
  postgresMaxCores: 'cores of the largest Postgres primary considered',
  postgresMaxWalMbPerSecond:
    'WAL MB/s one primary writes and ships to its standbys at most (used up to the utilization above)',
};
