import { existsSync, readdirSync } from 'node:fs';
import { markInterrupted } from './interruption';
import { report, resultsDir } from './report';

describe('report', () => {
  it('given the benchmark was interrupted, prints its table and writes no result: a load cut short gives false figures', () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    jest.spyOn(console, 'table').mockImplementation(() => undefined);
    const name = `interrupted-${process.pid}`;
    markInterrupted('SIGINT');

    report(name, [{ scenario: 'cut short', 'items/s': 1 }], ['a note']);

    const dir = resultsDir();
    const written = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(`${name}-`)) : [];
    expect(written).toEqual([]);
    expect(console.table).toHaveBeenCalledWith([{ scenario: 'cut short', 'items/s': 1 }]);
    expect(log).toHaveBeenCalledWith('interrupted by SIGINT: no results written');
  });
});
