import * as echarts from 'echarts';
import type { Chart, Figure } from './figure';
import { figureOf } from './specs';

type Option = echarts.EChartsOption;

const WIDTH = 1100;
const HEAD = 70;
const CHART_TITLE = 34;
const LEGEND = 28;
const AXIS_BELOW = 56;
const GAP = 24;
/** One palette (Tableau 10) for the whole figure, by series name: p99 is one colour in every chart. */
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

/** Height in px of a chart's plot area: bars grow with categories times series. */
function plotHeight(chart: Chart): number {
  if (chart.kind === 'line') return 320;
  return Math.max(140, chart.categories.length * (chart.series.length * 9 + 12));
}

/** The power of ten at or below a bar chart's smallest positive value: where a log axis starts. */
function logFloor(chart: Chart): number {
  const values = chart.series.flatMap((s) => s.values ?? []).filter((v): v is number => v! > 0);
  return values.length === 0 ? 1 : 10 ** Math.floor(Math.log10(Math.min(...values)));
}

/**
 * The ECharts option that draws `figure`: one grid per chart, stacked top to bottom, each with
 * its title, legend and axes; `height` is the SVG's height in px. Pure: no rendering here.
 */
export function echartsOption(figure: Figure): { option: Option; height: number } {
  const colours = new Map<string, string>();
  const colour = (name: string) => {
    if (!colours.has(name)) colours.set(name, PALETTE[colours.size % PALETTE.length]!);
    return colours.get(name)!;
  };
  const title: NonNullable<echarts.TitleComponentOption>[] = [
    { text: figure.title, subtext: figure.subtitle, left: 'center', top: 8 },
  ];
  const legend: echarts.LegendComponentOption[] = [];
  const grid: echarts.GridComponentOption[] = [];
  const xAxis: echarts.XAXisComponentOption[] = [];
  const yAxis: echarts.YAXisComponentOption[] = [];
  const series: echarts.SeriesOption[] = [];
  let top = HEAD;
  figure.charts.forEach((chart, i) => {
    const plot = plotHeight(chart);
    title.push({ text: chart.title, left: 'center', top, textStyle: { fontSize: 15 } });
    legend.push({
      top: top + CHART_TITLE - 6,
      itemGap: 28,
      data: chart.series.map((s) => s.name),
    });
    grid.push({
      top: top + CHART_TITLE + LEGEND,
      height: plot,
      left: 64,
      right: 40,
      outerBoundsMode: 'same',
      outerBoundsContain: 'axisLabel',
    });
    top += CHART_TITLE + LEGEND + plot + AXIS_BELOW + GAP;
    const axisName = { nameLocation: 'middle' as const, nameGap: 30 };
    if (chart.kind === 'bar') {
      xAxis.push({
        gridIndex: i,
        ...(chart.log ? { type: 'log', min: logFloor(chart) } : { type: 'value' }),
        name: chart.valueAxis,
        ...axisName,
      });
      yAxis.push({
        gridIndex: i,
        type: 'category',
        data: chart.categories,
        inverse: true,
        axisLabel: { interval: 0, width: 420, overflow: 'truncate' },
      });
      for (const s of chart.series) {
        series.push({
          type: 'bar',
          name: s.name,
          xAxisIndex: i,
          yAxisIndex: i,
          itemStyle: { color: colour(s.name) },
          data: s.values ?? [],
        });
      }
    } else {
      xAxis.push({ gridIndex: i, type: 'value', name: chart.xAxis, ...axisName });
      yAxis.push({ gridIndex: i, type: 'value', name: chart.yAxis });
      for (const s of chart.series) {
        series.push({
          type: 'line',
          name: s.name,
          xAxisIndex: i,
          yAxisIndex: i,
          showSymbol: false,
          itemStyle: { color: colour(s.name) },
          lineStyle: { color: colour(s.name) },
          data: s.points ?? [],
        });
      }
    }
  });
  const option: Option = {
    animation: false,
    backgroundColor: '#ffffff',
    textStyle: { fontFamily: 'sans-serif' },
    title,
    legend,
    grid,
    xAxis,
    yAxis,
    series,
  };
  return { option, height: top };
}

/**
 * Renders `figure` to a self-contained SVG document (text, no scripts), with ECharts'
 * server-side SVG renderer: no browser, no canvas.
 */
export function renderSvg(figure: Figure): string {
  const { option, height } = echartsOption(figure);
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: WIDTH, height });
  try {
    chart.setOption(option);
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/** The SVG report of a benchmark result (see `figureOf` for what it draws and its errors). */
export function resultSvg(result: unknown): string {
  return renderSvg(figureOf(result));
}
