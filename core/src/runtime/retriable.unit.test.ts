import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded } from 'kafkajs';
import pg from 'pg';
import { errors } from './errors';
import { PostgresFailure, postgresFailure } from './postgres';
import { isRetriable } from './retriable';

/** An error as pg reports one the server answered with. */
function serverError(sqlState: string): pg.DatabaseError {
  const err = new pg.DatabaseError(`server said ${sqlState}`, 0, 'error');
  err.code = sqlState;
  return err;
}

describe('isRetriable', () => {
  it('believes an error that says so itself', () => {
    expect(isRetriable(errors.unavailable('Kafka'))).toBe(true);
    expect(isRetriable(errors.invalidDomain('x', 'is bad'))).toBe(false);
    expect(isRetriable(Object.assign(new Error('kafkajs'), { retriable: true }))).toBe(true);
  });

  it('never retries a programmer error', () => {
    expect(isRetriable(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(
      false,
    );
    expect(isRetriable(new RangeError('Invalid array length'))).toBe(false);
  });

  it('retries a network failure, also as the cause of another error', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(isRetriable(refused)).toBe(true);
    expect(isRetriable(new Error('lookup failed', { cause: refused }))).toBe(true);
  });

  it('lets the cause decide when kafkajs ran out of its own retries', () => {
    const retries = { retryCount: 5, retryTime: 2000 };
    const unreachable = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED');
    expect(isRetriable(new KafkaJSNumberOfRetriesExceeded(unreachable, retries))).toBe(true);
    const bug = new TypeError('x is not a function');
    expect(isRetriable(new KafkaJSNumberOfRetriesExceeded(bug, retries))).toBe(false);
  });

  it('does not retry an error nothing is known of', () => {
    expect(isRetriable(new Error('something'))).toBe(false);
    expect(isRetriable('a string')).toBe(false);
    expect(isRetriable(undefined)).toBe(false);
  });
});

describe('postgresFailure', () => {
  it.each([
    ['08006', 'unavailable', true],
    ['40001', 'unavailable', true],
    ['40P01', 'unavailable', true],
    ['53300', 'unavailable', true],
    ['57P01', 'unavailable', true],
    ['55P03', 'unavailable', true],
    ['22008', 'refused', false],
    ['23514', 'refused', false],
    ['42703', 'failed', false],
    ['XX000', 'failed', false],
    // In the transient classes, but a wrong statement or a broken installation.
    ['08P01', 'failed', false],
    ['58P01', 'failed', false],
  ])('classifies SQLSTATE %s as %s', (sqlState, kind, retriable) => {
    const failure = postgresFailure(serverError(sqlState)) as PostgresFailure;
    expect(failure).toBeInstanceOf(PostgresFailure);
    expect(failure.kind).toBe(kind);
    expect(failure.sqlState).toBe(sqlState);
    expect(isRetriable(failure)).toBe(retriable);
  });

  it('takes an error without SQLSTATE (the connection broke) as unavailable', () => {
    const failure = postgresFailure(new Error('Connection terminated unexpectedly'));
    expect(failure).toMatchObject({ kind: 'unavailable', retriable: true });
  });

  it('passes programmer errors and errors that classify themselves as they are', () => {
    for (const bug of [
      new TypeError('x is not a function'),
      new SyntaxError('Unexpected token'),
      new RangeError('Invalid array length'),
    ]) {
      expect(postgresFailure(bug)).toBe(bug);
      expect(isRetriable(postgresFailure(bug))).toBe(false);
    }
    const ours = errors.unavailable('Postgres');
    expect(postgresFailure(ours)).toBe(ours);
  });
});
