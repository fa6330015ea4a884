import pg from 'pg';
import pino from 'pino';
import { followLiveVersion } from './live-version-follower';
import type { ProjectionStore } from './projection-store';
import type { Projector } from './projector';

function databaseError(code: string, message: string): pg.DatabaseError {
  const err = new pg.DatabaseError(message, 0, 'error');
  err.code = code;
  return err;
}

/** A pool whose `SELECT version FROM live_read_model` gives the next answer each time. */
function poolAnswering(answers: (number | Error)[]): pg.Pool {
  return {
    query: () => {
      const next = answers.shift() ?? 1;
      return next instanceof Error
        ? Promise.reject(next)
        : Promise.resolve({ rows: [{ version: next }] });
    },
  } as unknown as pg.Pool;
}

function follow(answers: (number | Error)[]) {
  let version = 1;
  const switched: number[] = [];
  const fatal: unknown[] = [];
  const projector = {
    version: () => version,
    useStore: (store: ProjectionStore) => {
      version = store.version;
      switched.push(store.version);
      return Promise.resolve();
    },
  } as unknown as Projector;
  const stop = followLiveVersion({
    pool: poolAnswering(answers),
    projector,
    openStore: (v) => Promise.resolve({ version: v } as ProjectionStore),
    intervalMs: 1000,
    logger: pino({ level: 'silent' }),
    onFatal: (err) => fatal.push(err),
  });
  return { switched, fatal, stop };
}

describe('following the live read model version', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('given Postgres restarting or its connections cut, when the checks fail, then it keeps checking and follows the switch once Postgres answers', async () => {
    const { switched, fatal, stop } = follow([
      databaseError('57P03', 'the database system is starting up'),
      databaseError('57P01', 'terminating connection due to administrator command'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      2,
    ]);
    await jest.advanceTimersByTimeAsync(5000);
    stop();
    expect(fatal).toEqual([]);
    expect(switched).toEqual([2]);
  });

  it('given a failure retrying cannot mend (the table is missing), then it stops and reports it as fatal', async () => {
    const missing = databaseError('42P01', 'relation "live_read_model" does not exist');
    const { switched, fatal, stop } = follow([missing, 2]);
    await jest.advanceTimersByTimeAsync(3000);
    stop();
    expect(fatal).toHaveLength(1);
    expect((fatal[0] as Error).cause).toBe(missing);
    // It stopped checking: the switch to version 2 was never seen.
    expect(switched).toEqual([]);
  });
});
