import pino from 'pino';
import { Registry } from 'prom-client';
import { createServiceApp, NotReady } from './http';

describe('catchall_readiness', () => {
  it('reports each readiness check as /readyz runs it: 1 passing, 0 failing, at every scrape', async () => {
    let postgresUp = true;
    const app = createServiceApp({
      logger: pino({ level: 'silent' }),
      metrics: new Registry(),
      readiness: {
        postgres: async () => {
          if (!postgresUp) throw new NotReady('Postgres does not answer');
        },
        kafka: async () => {
          throw new NotReady('not a member of the consumer group');
        },
      },
    });
    try {
      const scrape = async () => (await app.inject('/metrics')).body;
      expect(await scrape()).toMatch(/^catchall_readiness\{check="postgres"\} 1$/m);
      expect(await scrape()).toMatch(/^catchall_readiness\{check="kafka"\} 0$/m);
      postgresUp = false;
      expect(await scrape()).toMatch(/^catchall_readiness\{check="postgres"\} 0$/m);
      expect((await app.inject('/readyz')).statusCode).toBe(503);
    } finally {
      await app.close();
    }
  });
});
