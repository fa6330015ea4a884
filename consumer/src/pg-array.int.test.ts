import pg from 'pg';
import { testInfra } from '../../test/support/env';
import { plainArray, textArray } from './pg-array';

describe('Postgres array literals, read by Postgres', () => {
  const client = new pg.Client({ connectionString: testInfra().postgresAdminUrl });
  beforeAll(() => client.connect());
  afterAll(() => client.end());

  it('reads back every text as it was sent, whatever its characters', async () => {
    const texts = [
      'a.example',
      'NULL',
      'null',
      'x,y',
      '{z}',
      ' sp ',
      'say "hi"',
      'back\\slash',
      '',
    ];
    const { rows } = await client.query<{ t: string[] }>('SELECT $1::text[] AS t', [
      textArray(texts),
    ]);
    expect(rows[0]!.t).toEqual(texts);
  });

  it('reads back bigints and doubles', async () => {
    const { rows } = await client.query<{ b: string[]; f: number[] }>(
      'SELECT $1::bigint[] AS b, $2::float8[] AS f',
      [plainArray([0, 1700000000123, 2 ** 53 - 1]), plainArray([1700000000123.5, 0])],
    );
    expect(rows[0]!.b).toEqual(['0', '1700000000123', String(2 ** 53 - 1)]);
    expect(rows[0]!.f).toEqual([1700000000123.5, 0]);
  });
});
