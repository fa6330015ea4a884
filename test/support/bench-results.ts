/**
 * Small benchmark results in the shape each benchmark under bench/ writes (a few rows each,
 * round figures), for the unit tests of the charts.
 */
import type { BenchResult } from '../../bench/lib/charts/figure';

const at = '2026-01-02T03:04:05.000Z';

export const ingestResult: BenchResult = {
  name: 'ingest',
  at,
  rows: [
    { scenario: 'PUT, 8 connections', connections: 8, 'items/s': 500, p50: 10, p95: 90, p99: 200 },
    {
      scenario: 'POST 1000/request, 8 connections',
      connections: 8,
      'items/s': 300_000,
      'requests/s': 300,
      p50: 20,
      p95: 30,
      p99: 40,
    },
    {
      scenario: 'Kafka ProducerPerformance (67 B records, baseline)',
      'items/s': 600_000,
      p50: 31,
      p95: 700,
      p99: 800,
    },
  ],
  notes: ['latencies in ms'],
};

export const readModelResult: BenchResult = {
  name: 'read-model',
  at,
  rows: [
    { scenario: 'rebuild 1,000 domains from the topic', 'items/s': 60_000 },
    {
      scenario: 'warm-up, query API 1 worker (not counted)',
      'items/s': 9_000,
      p50: 3,
      p95: 5,
      p99: 9,
    },
    {
      scenario: 'query API GET /domains/<d>, 1 worker, 32 connections',
      'items/s': 13_000,
      p50: 2,
      p95: 4,
      p99: 5,
    },
    {
      scenario: 'pg primary-key query, 8 concurrent (baseline)',
      'items/s': 9_000,
      p50: 0.8,
      p95: 1.5,
      p99: 2.4,
    },
    { scenario: 'GET /domains?status=unknown&limit=100 (200 pages)', p50: 4, p95: 7, p99: 30 },
  ],
  notes: [],
};

export const catchUpRow = {
  workload: 'zipf',
  events: 1000,
  'projector events/s': 150_000,
  'Postgres ceiling events/s': 250_000,
  'Kafka ConsumerPerformance events/s': 800_000,
};

export const catchUpResult: BenchResult = {
  name: 'catch-up',
  at,
  rows: [
    catchUpRow,
    {
      workload: 'zipf, client ids',
      events: 1000,
      'projector events/s': 80_000,
      'max RSS MB': 210,
    },
  ],
  notes: [],
  latencies: {
    freshness: { p50: 190, p95: 300, p99: 360, probes: 59 },
    'read-your-writes': { p50: 200, p95: 340, p99: 365, probes: 59 },
  },
  progress: {
    zipf: [
      { s: 0, applied: 0 },
      { s: 0.25, applied: 400 },
      { s: 0.5, applied: 1000 },
    ],
    'zipf, client ids': [
      { s: 0, applied: 0 },
      { s: 0.5, applied: 600 },
      { s: 1, applied: 1000 },
    ],
  },
};

const phase = (phaseName: string, members: number, offered: number, accepted: number) => ({
  kind: 'phase',
  phase: phaseName,
  members,
  'offered events/s': offered,
  'accepted events/s': accepted,
  'applied offsets/s': accepted + 100,
  'freshness p50 ms': 200,
  'freshness p99 ms': 500,
  'freshness max ms': 600,
});

export const scaleResult: BenchResult = {
  name: 'scale',
  at,
  rows: [
    phase('steady, 1 members', 1, 10_000, 9_990),
    phase('step, 1 members', 1, 60_000, 35_000),
    { kind: 'drain', phase: 'after step, 1 members', members: 1, 'drained after s': 0.4 },
    phase('steady, one member killed (SIGKILL)', 2, 10_000, 10_040),
    {
      kind: 'rebalance',
      phase: 'steady, one member killed (SIGKILL)',
      members: '3 → 2',
      'records written before it all applied after s': 11.9,
      'longest pause s': 11.8,
    },
    { kind: 'check', phase: 'read model against the topic', 'domains that differ': 0 },
  ],
  notes: [],
};

export const poisonStormResult: BenchResult = {
  name: 'poison-storm',
  at,
  rows: [
    {
      scenario: '50000 valid records, then the probe (baseline)',
      'probe delay ms (ack to row)': 444,
      'records through per s': 50_000,
      'dead letters per s': 0,
    },
    {
      scenario: '50000 records not in the wire format, then the probe',
      'probe delay ms (ack to row)': 1_300,
      'records through per s': 33_000,
      'dead letters per s': 33_000,
    },
  ],
  notes: [],
};
