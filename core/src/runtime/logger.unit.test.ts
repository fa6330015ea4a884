import { Writable } from 'node:stream';
import { createLogger } from './logger';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger({ name: 'test', level: 'info', destination: stream }), lines };
}

describe('the logger never writes secrets', () => {
  it('redacts the Authorization header of a logged request', () => {
    const { logger, lines } = capture();
    logger.info(
      { req: { method: 'GET', url: '/domains/x', headers: { authorization: 'Bearer t0ken-1' } } },
      'request',
    );
    logger.info({ headers: { authorization: 'Basic c2VjcmV0' } }, 'headers');
    const text = lines.join('');
    expect(text).not.toMatch(/t0ken-1|c2VjcmV0/);
    expect(text).toContain('[Redacted]');
  });

  it('redacts secret settings and client passwords should a configuration be logged', () => {
    const { logger, lines } = capture();
    logger.info(
      {
        config: {
          KAFKA_SASL_PASSWORD: 'sasl-pass',
          SCHEMA_REGISTRY_TOKEN: 'reg-token',
          DATABASE_URL: 'postgres://app:pg-pass@db/catchall',
          QUERY_API_TOKENS: 'read-token',
          API_TOKENS: 'write-token',
          KAFKA_BROKERS: 'broker:9093',
        },
        sasl: { mechanism: 'plain', username: 'alice', password: 'plain-pass' },
        ssl: { passphrase: 'key-pass', key: '-----BEGIN PRIVATE KEY-----' },
      },
      'settings',
    );
    const text = lines.join('');
    for (const secret of [
      'sasl-pass',
      'reg-token',
      'pg-pass',
      'read-token',
      'write-token',
      'plain-pass',
      'key-pass',
      'BEGIN PRIVATE KEY',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('broker:9093');
    expect(text).toContain('alice');
  });
});
