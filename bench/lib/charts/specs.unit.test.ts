import {
  catchUpResult,
  catchUpRow,
  ingestResult,
  poisonStormResult,
  readModelResult,
  scaleResult,
} from '../../../test/support/bench-results';
import type { BarChart, Chart, Figure, LineChart } from './figure';
import { ResultShapeError } from './figure';
import { figureOf, hasFigure } from './specs';

function chart(figure: Figure, title: string): Chart {
  const found = figure.charts.find((c) => c.title === title);
  if (!found)
    throw new Error(`no chart "${title}" in ${figure.charts.map((c) => c.title).join(', ')}`);
  return found;
}
const bars = (figure: Figure, title: string) => chart(figure, title) as BarChart;
const values = (c: BarChart) => Object.fromEntries(c.series.map((s) => [s.name, s.values]));

describe('the charts of a benchmark result', () => {
  it('draws ingest rates with the baseline as a series of its own, and requests/s where recorded', () => {
    const figure = figureOf(ingestResult);
    const rates = bars(figure, 'Accepted events and requests per second');
    expect(rates.categories).toEqual([
      'PUT, 8 connections',
      'POST 1000/request, 8 connections',
      'Kafka ProducerPerformance (67 B records, baseline)',
    ]);
    expect(rates.log).toBe(true);
    expect(values(rates)).toEqual({
      'events/s': [500, 300_000, null],
      'baseline events/s': [null, null, 600_000],
      'requests/s': [null, 300, null],
    });
    expect(values(bars(figure, 'Latency percentiles'))).toEqual({
      p50: [10, 20, 31],
      p95: [90, 30, 700],
      p99: [200, 40, 800],
    });
    expect(figure.subtitle).toContain('run of 2026-01-02T03:04:05.000Z');
  });

  it('leaves out read model warm-ups and charts latency only for the rows that have it', () => {
    const figure = figureOf(readModelResult);
    const rates = bars(figure, 'Rate per scenario');
    expect(rates.categories).toEqual([
      'rebuild 1,000 domains from the topic',
      'query API GET /domains/<d>, 1 worker, 32 connections',
      'pg primary-key query, 8 concurrent (baseline)',
    ]);
    expect(values(rates)).toEqual({
      'per second': [60_000, 13_000, null],
      'baseline per second': [null, null, 9_000],
    });
    const latency = bars(figure, 'Latency percentiles');
    expect(latency.categories).toHaveLength(3);
    expect(latency.categories[2]).toBe('GET /domains?status=unknown&limit=100 (200 pages)');
    expect(values(latency).p99).toEqual([5, 2.4, 30]);
  });

  it('draws catch-up rates per workload and applied events over time per workload', () => {
    const figure = figureOf(catchUpResult);
    expect(values(bars(figure, 'Catch-up rate per workload'))).toEqual({
      projector: [150_000, 80_000],
      'Postgres ceiling (baseline)': [250_000, null],
      'Kafka ConsumerPerformance (baseline)': [800_000, null],
    });
    const progress = chart(figure, 'Applied events since the projector started') as LineChart;
    expect(progress.kind).toBe('line');
    expect(progress.series).toEqual([
      {
        name: 'zipf',
        points: [
          [0, 0],
          [0.25, 400],
          [0.5, 1000],
        ],
      },
      {
        name: 'zipf, client ids',
        points: [
          [0, 0],
          [0.5, 600],
          [1, 1000],
        ],
      },
    ]);
  });

  it('draws catch-up peak memory per workload beside its bound, and the latency percentiles of the probes', () => {
    const figure = figureOf(catchUpResult);
    expect(values(bars(figure, 'Projector peak RSS per workload'))).toEqual({
      'peak RSS': [null, 210],
      'bound (256 MB)': [256, 256],
    });
    const latency = bars(figure, 'Latency percentiles while events flow');
    expect(latency.categories).toEqual(['freshness (59 probes)', 'read-your-writes (59 probes)']);
    expect(values(latency)).toEqual({ p50: [190, 200], p95: [300, 340], p99: [360, 365] });
  });

  it('says so when a catch-up result has no progress over time, and charts the rest', () => {
    const figure = figureOf({ ...catchUpResult, progress: undefined, latencies: undefined });
    expect(figure.charts.map((c) => c.title)).toEqual([
      'Catch-up rate per workload',
      'Projector peak RSS per workload',
    ]);
    expect(figure.subtitle).toContain('no progress over time');
  });

  it('draws scale throughput and freshness per phase and member count, and the rebalance pauses', () => {
    const figure = figureOf(scaleResult);
    const throughput = bars(figure, 'Throughput per phase and member count');
    expect(throughput.categories).toEqual([
      'steady, 1 members',
      'step, 1 members',
      'steady, one member killed (SIGKILL) (2 members)',
    ]);
    expect(values(throughput)).toEqual({
      offered: [10_000, 60_000, 10_000],
      'accepted (202)': [9_990, 35_000, 10_040],
      'applied offsets': [10_090, 35_100, 10_140],
    });
    expect(values(bars(figure, 'Freshness per phase: 202 to applied')).max).toEqual([
      600, 600, 600,
    ]);
    const rebalances = bars(figure, 'Rebalances: how long they held records back');
    expect(rebalances.categories).toEqual(['steady, one member killed (SIGKILL) (3 → 2)']);
    expect(values(rebalances)).toEqual({
      'longest partition pause': [11.8],
      'all earlier records applied after': [11.9],
    });
  });

  it('draws poison-storm throughput, dead letters and the probe delay per scenario', () => {
    const figure = figureOf(poisonStormResult);
    expect(values(bars(figure, 'Records through the projector per second'))).toEqual({
      'records through/s': [50_000, 33_000],
      'dead letters/s': [0, 33_000],
    });
    expect(values(bars(figure, 'Probe behind the records: Kafka ack to row'))).toEqual({
      'probe delay': [444, 1_300],
    });
  });

  it('knows which benchmarks it draws', () => {
    expect(['ingest', 'read-model', 'catch-up', 'scale', 'poison-storm'].every(hasFigure)).toBe(
      true,
    );
    expect(hasFigure('capacity')).toBe(false);
  });
});

describe('a result that cannot be charted', () => {
  const shapeError = (value: unknown) => {
    try {
      figureOf(value);
    } catch (err) {
      expect(err).toBeInstanceOf(ResultShapeError);
      return (err as ResultShapeError).message;
    }
    throw new Error('figureOf accepted the result');
  };

  it('fails on an empty result, saying there is nothing to chart', () => {
    expect(shapeError({ ...ingestResult, rows: [] })).toBe(
      'ingest result (2026-01-02T03:04:05.000Z) has no rows: nothing to chart',
    );
  });

  it('fails on a missing figure, naming the row and the field', () => {
    const rows = [{ ...catchUpRow, 'projector events/s': undefined }];
    expect(shapeError({ ...catchUpResult, rows })).toBe(
      'catch-up result (2026-01-02T03:04:05.000Z): row "zipf" has no number in "projector events/s" (found undefined)',
    );
  });

  it('fails on a latency row without one of its percentiles', () => {
    const rows = [{ scenario: 'PUT, 8 connections', 'items/s': 500, p50: 10, p95: 90 }];
    expect(shapeError({ ...ingestResult, rows })).toContain('has no number in "p99"');
  });

  it('fails on a scale result without phases, and on progress without samples', () => {
    expect(shapeError({ ...scaleResult, rows: scaleResult.rows.slice(2, 3) })).toContain(
      'no row of kind "phase"',
    );
    expect(shapeError({ ...catchUpResult, progress: { zipf: [] } })).toContain(
      'progress of "zipf" has no samples',
    );
  });

  it('fails on what is not a result, and on a benchmark it has no charts for', () => {
    expect(shapeError(null)).toBe('a benchmark result is a JSON object');
    expect(shapeError({ rows: [] })).toBe('a benchmark result has a "name" and an "at" text');
    expect(shapeError({ ...ingestResult, name: 'capacity' })).toContain(
      'no charts for a "capacity" result',
    );
  });
});
