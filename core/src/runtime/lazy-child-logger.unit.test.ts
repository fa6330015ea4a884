import { Writable } from 'node:stream';
import { lazyChildLoggerFactory } from './lazy-child-logger';
import { createLogger } from './logger';

function capture(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ name: 'test', level, destination: stream }), lines };
}

/** A line without its time, which differs between two calls. */
const timeless = ({ time: _time, ...line }: Record<string, unknown>) => line;

describe('a request logger made only when the request logs', () => {
  it('writes the lines pino child would write: the bindings, the message, its arguments, redaction', () => {
    const { logger, lines } = capture();
    const eager = logger.child({ reqId: 'req-1' });
    const lazy = lazyChildLoggerFactory(logger, { reqId: 'req-1' }, {});
    for (const log of [eager, lazy]) {
      log.error({ err: new Error('boom'), headers: { authorization: 'Bearer s3cret' } }, 'failed');
      log.warn('a %s of %d', 'message', 2);
      log.child({ part: 'inner' }).info({ n: 1 }, 'nested');
    }
    expect(lines).toHaveLength(6);
    expect(lines.slice(3).map(timeless)).toEqual(lines.slice(0, 3).map(timeless));
    expect(lines[0]).toMatchObject({ reqId: 'req-1', msg: 'failed', level: 50 });
    expect(JSON.stringify(lines)).not.toContain('s3cret');
    expect(lines[1]).toMatchObject({ msg: 'a message of 2' });
    expect(lines[2]).toMatchObject({ reqId: 'req-1', part: 'inner', msg: 'nested' });
  });

  it('makes no pino child for a request that does not log, and keeps the level of the options or the parent', () => {
    const { logger } = capture('warn');
    const child = jest.spyOn(logger, 'child');
    const lazy = lazyChildLoggerFactory(logger, { reqId: 'req-2' }, {});
    expect(lazy.level).toBe('warn');
    expect(lazyChildLoggerFactory(logger, { reqId: 'req-3' }, { level: 'error' }).level).toBe(
      'error',
    );
    expect(child).not.toHaveBeenCalled();

    lazy.debug('below the level');
    expect(child).toHaveBeenCalledTimes(1);
    lazy.warn('logged');
    // Made once, on the first call.
    expect(child).toHaveBeenCalledTimes(1);
  });
});
