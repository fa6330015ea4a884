import { catchUpResult, ingestResult } from '../../../test/support/bench-results';
import type { Chart } from './figure';
import { figureOf } from './specs';
import { echartsOption, renderSvg, resultSvg } from './render';

describe('the SVG of a benchmark result', () => {
  it('is an SVG document with the figure title, every chart title and every axis title', () => {
    const figure = figureOf(ingestResult);
    const svg = renderSvg(figure);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).not.toContain('<script');
    for (const text of [
      'bench:ingest: ingest API against Kafka ProducerPerformance',
      'Accepted events and requests per second',
      'Latency percentiles',
      'per second (log scale)',
      'ms (log scale)',
      'PUT, 8 connections',
      'p99',
    ]) {
      expect(svg).toContain(text);
    }
  });

  it('draws the catch-up progress as lines, and one grid per chart', () => {
    const { option } = echartsOption(figureOf(catchUpResult));
    expect(option.grid).toHaveLength(4);
    const series = option.series as { type: string; name: string; data: unknown[] }[];
    expect(series.filter((s) => s.type === 'line').map((s) => s.name)).toEqual([
      'zipf',
      'zipf, client ids',
    ]);
    const svg = resultSvg(catchUpResult);
    expect(svg).toContain('Applied events since the projector started');
    expect(svg).toContain('s since the projector process started');
    expect(svg).toMatch(/<path d="M[^"]+L/);
  });

  it('gives a series name one colour in every chart of a figure', () => {
    const latency = (title: string): Chart => ({
      kind: 'bar',
      title,
      valueAxis: 'ms',
      categories: ['a'],
      series: [
        { name: 'p50', values: [1] },
        { name: 'p99', values: [2] },
      ],
    });
    const { option } = echartsOption({
      name: 'x',
      title: 'x',
      subtitle: '',
      charts: [latency('one'), { ...latency('two'), series: [{ name: 'p99', values: [3] }] }],
    });
    const colours = (option.series as { name: string; itemStyle: { color: string } }[]).map((s) => [
      s.name,
      s.itemStyle.color,
    ]);
    expect(colours).toEqual([
      ['p50', colours[0]![1]],
      ['p99', colours[1]![1]],
      ['p99', colours[1]![1]],
    ]);
    expect(colours[0]![1]).not.toBe(colours[1]![1]);
  });

  it('starts a log axis at the power of ten below the smallest value', () => {
    const { option } = echartsOption(figureOf(ingestResult));
    const xAxis = option.xAxis as { type: string; min?: number }[];
    expect(xAxis.map((a) => [a.type, a.min])).toEqual([
      ['log', 100],
      ['log', 10],
    ]);
  });
});
