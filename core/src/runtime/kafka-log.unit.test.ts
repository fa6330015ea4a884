import { Writable } from 'node:stream';
import pino from 'pino';
import { createErrorFromCode } from 'kafkajs/src/protocol/error';
import { CONCURRENT_TRANSACTIONS_MESSAGE, createKafka, kafkajsLogLevel } from './kafka';

/** The JSON lines a pino logger at debug wrote, parsed. */
function capture() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, stream) };
}

describe('kafkajs log entries', () => {
  it("knows kafkajs's own text of CONCURRENT_TRANSACTIONS (Kafka error code 51)", () => {
    const error = createErrorFromCode(51);
    expect(error.type).toBe('CONCURRENT_TRANSACTIONS');
    expect(error.message).toBe(CONCURRENT_TRANSACTIONS_MESSAGE);
  });

  it('logs the retries of a transaction started while the last one completes at debug', () => {
    const { lines, logger } = capture();
    const kafkajsLog = createKafka({ brokers: '127.0.0.1:9', clientId: 'test', logger }).logger();
    kafkajsLog.error('Response AddPartitionsToTxn(key: 24, version: 1)', {
      error: CONCURRENT_TRANSACTIONS_MESSAGE,
      correlationId: 18,
    });
    kafkajsLog.error(`Failed to send messages: ${CONCURRENT_TRANSACTIONS_MESSAGE}`, {
      retryCount: 0,
    });
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [20, 'Response AddPartitionsToTxn(key: 24, version: 1)'],
      [20, `Failed to send messages: ${CONCURRENT_TRANSACTIONS_MESSAGE}`],
    ]);
  });

  it('keeps the level of every other entry', () => {
    const { lines, logger } = capture();
    const kafkajsLog = createKafka({ brokers: '127.0.0.1:9', clientId: 'test', logger }).logger();
    kafkajsLog.error('Failed to send messages: The group is rebalancing', { retryCount: 0 });
    kafkajsLog.warn('The group is rebalancing, re-joining', {});
    expect(lines.map((l) => l.level)).toEqual([50, 40]);
    expect(kafkajsLogLevel(1, { message: 'Connection error: read ECONNRESET' })).toBe('error');
  });
});
