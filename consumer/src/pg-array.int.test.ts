import pg from 'pg';
import { testInfra } from '../../test/support/env';
import { int8Array, plainArray, textArray, uuidArray } from './pg-array';

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

  it('reads binary uuid[] and bigint[] parameters back as sent, the extremes included', async () => {
    const hexKeys = [
      '00000000000000000000000000000000',
      'ffffffffffffffffffffffffffffffff',
      '0a0d22275c7b7d2c8081feff00112233',
    ];
    const keys = hexKeys.map((h) => Buffer.from(h, 'hex').toString('latin1'));
    const times = [
      0,
      -1,
      1700000000123,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      2 ** 32,
      -(2 ** 32),
    ];
    const { rows } = await client.query<{ u: string; b: string[] }>(
      "SELECT array_to_string($1::uuid[], ',') AS u, $2::bigint[] AS b",
      [uuidArray(keys), int8Array(times)],
    );
    expect(rows[0]!.u.replaceAll('-', '').split(',')).toEqual(hexKeys);
    expect(rows[0]!.b).toEqual(times.map(String));
  });
});
