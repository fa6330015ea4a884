import pg from 'pg';
import { errorCatalogue } from '../domain/error-catalogue';
import { PostgresFailure, withTransaction } from './postgres';

/**
 * A pg Pool and its one PoolClient, in memory, for withTransaction alone: the client records
 * every statement and how it was released, and fails the statements it is told to.
 */
function fakePool(options: { connectFails?: Error; fails?: Record<string, Error> } = {}) {
  const statements: string[] = [];
  const releases: unknown[] = [];
  const client = {
    query(text: string) {
      statements.push(text);
      const failure = options.fails?.[text];
      return failure ? Promise.reject(failure) : Promise.resolve({ rows: [], rowCount: 0 });
    },
    release(destroy?: unknown) {
      releases.push(destroy);
    },
  } as Partial<pg.PoolClient> as pg.PoolClient;
  const pool = {
    connect: () =>
      options.connectFails ? Promise.reject(options.connectFails) : Promise.resolve(client),
  } as Partial<pg.Pool> as pg.Pool;
  return { pool, statements, releases };
}

/** An error as pg gives it when Postgres answers with this SQLSTATE. */
function sqlState(code: string, message: string): pg.DatabaseError {
  return Object.assign(new pg.DatabaseError(message, message.length, 'error'), { code });
}

describe('withTransaction', () => {
  it('given work that succeeds, then it runs between BEGIN and COMMIT, returns its result and gives the client back to the pool', async () => {
    const { pool, statements, releases } = fakePool();
    const result = await withTransaction(pool, async (client) => {
      await client.query('UPDATE positions');
      return 42;
    });
    expect(result).toBe(42);
    expect(statements).toEqual(['BEGIN', 'UPDATE positions', 'COMMIT']);
    expect(releases).toHaveLength(1);
    expect(releases[0]).toBeFalsy();
  });

  it('given work that fails in Postgres, then it rolls back, throws the failure classified with the original as cause, and destroys the client', async () => {
    const refused = sqlState('23514', 'new row violates check constraint');
    const { pool, statements, releases } = fakePool({ fails: { 'INSERT counts': refused } });
    const thrown: unknown = await withTransaction(pool, async (client) => {
      await client.query('INSERT counts');
      await client.query('UPDATE positions');
    }).catch((err: unknown) => err);
    expect(statements).toEqual(['BEGIN', 'INSERT counts', 'ROLLBACK']);
    expect(thrown).toBeInstanceOf(PostgresFailure);
    expect(thrown).toMatchObject({
      kind: 'refused',
      sqlState: '23514',
      code: errorCatalogue.postgresRefused.code,
      retriable: false,
      cause: refused,
    });
    expect(releases).toEqual([true]);
  });

  it('given work that fails with a programmer error, then it rolls back and throws that very error, unclassified', async () => {
    const { pool, statements, releases } = fakePool();
    const bug = new TypeError('rows.map is not a function');
    await expect(
      withTransaction(pool, () => {
        throw bug;
      }),
    ).rejects.toBe(bug);
    expect(statements).toEqual(['BEGIN', 'ROLLBACK']);
    expect(releases).toEqual([true]);
  });

  it('given a ROLLBACK that fails too, then the failure of the work is thrown, not the rollback one, and the client is destroyed, not returned to the pool', async () => {
    const conflict = sqlState('40001', 'could not serialize access');
    const { pool, statements, releases } = fakePool({
      fails: {
        'UPDATE positions': conflict,
        ROLLBACK: new Error('Connection terminated unexpectedly'),
      },
    });
    const thrown: unknown = await withTransaction(pool, (client) =>
      client.query('UPDATE positions'),
    ).catch((err: unknown) => err);
    expect(statements).toEqual(['BEGIN', 'UPDATE positions', 'ROLLBACK']);
    expect(thrown).toMatchObject({
      kind: 'unavailable',
      sqlState: '40001',
      retriable: true,
      cause: conflict,
    });
    expect(releases).toEqual([true]);
  });

  it('given a COMMIT whose answer is lost, then it tries a ROLLBACK, throws a retriable failure and destroys the client', async () => {
    const { pool, statements, releases } = fakePool({
      fails: { COMMIT: new Error('Connection terminated unexpectedly') },
    });
    const thrown: unknown = await withTransaction(pool, () => Promise.resolve('done')).catch(
      (err: unknown) => err,
    );
    expect(statements).toEqual(['BEGIN', 'COMMIT', 'ROLLBACK']);
    expect(thrown).toMatchObject({
      kind: 'unavailable',
      code: errorCatalogue.postgresUnavailable.code,
      retriable: true,
    });
    expect(releases).toEqual([true]);
  });

  it('given a BEGIN that fails, then the work never runs and the client is destroyed', async () => {
    const { pool, releases } = fakePool({
      fails: { BEGIN: sqlState('57P01', 'terminating connection due to administrator command') },
    });
    const work = jest.fn(() => Promise.resolve());
    await expect(withTransaction(pool, work)).rejects.toMatchObject({ kind: 'unavailable' });
    expect(work).not.toHaveBeenCalled();
    expect(releases).toEqual([true]);
  });

  it('given no connection can be had, then it throws the failure classified by postgresFailure and runs nothing', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    const { pool, statements, releases } = fakePool({ connectFails: refused });
    const work = jest.fn(() => Promise.resolve());
    const thrown: unknown = await withTransaction(pool, work).catch((err: unknown) => err);
    expect(thrown).toBeInstanceOf(PostgresFailure);
    expect(thrown).toMatchObject({
      kind: 'unavailable',
      sqlState: undefined,
      retriable: true,
      cause: refused,
    });
    expect(work).not.toHaveBeenCalled();
    expect(statements).toEqual([]);
    expect(releases).toEqual([]);

    const badPassword = sqlState('28P01', 'password authentication failed');
    await expect(
      withTransaction(fakePool({ connectFails: badPassword }).pool, work),
    ).rejects.toMatchObject({ kind: 'failed', retriable: false, cause: badPassword });
  });
});
