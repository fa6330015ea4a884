import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { newestResults, ResultsFolderError } from './newest-results';

describe('the newest result of each benchmark in a folder', () => {
  let folder: string;
  beforeEach(() => {
    folder = mkdtempSync(path.join(os.tmpdir(), 'bench-results-'));
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  const write = (file: string, value: unknown) =>
    writeFileSync(path.join(folder, file), JSON.stringify(value));

  it('takes the newest run of each benchmark by its time, ignoring the SVGs beside them', () => {
    write('catch-up-b.json', { name: 'catch-up', at: '2026-11-30T07:00:00.000Z', rows: [] });
    write('catch-up-a.json', { name: 'catch-up', at: '2026-11-30T08:00:00.000Z', rows: [] });
    write('scale-a.json', { name: 'scale', at: '2026-11-29T08:00:00.000Z', rows: [] });
    writeFileSync(path.join(folder, 'scale-a.svg'), '<svg/>');
    const newest = newestResults(folder);
    expect([...newest.keys()].sort()).toEqual(['catch-up', 'scale']);
    expect(path.basename(newest.get('catch-up')!.file)).toBe('catch-up-a.json');
  });

  it('says so when the folder is missing or holds no result', () => {
    const missing = path.join(folder, 'nowhere');
    expect(() => newestResults(missing)).toThrow(ResultsFolderError);
    expect(() => newestResults(missing)).toThrow(
      `no results folder at ${missing}: run a benchmark first`,
    );
    expect(() => newestResults(folder)).toThrow(`no benchmark results (*.json) in ${folder}`);
  });

  it('names a file that is not a benchmark result', () => {
    write('other.json', { rows: [] });
    expect(() => newestResults(folder)).toThrow(
      `${path.join(folder, 'other.json')} is not a benchmark result`,
    );
    writeFileSync(path.join(folder, 'other.json'), '{');
    expect(() => newestResults(folder)).toThrow(`${path.join(folder, 'other.json')} is not JSON`);
  });
});
