import pino from 'pino';
import { Registry } from 'prom-client';
import { createServiceApp, NotReady } from './http';
import { errors } from './errors';

/** The value of the `catchall_http_requests_total` line with exactly these labels, or undefined. */
function counted(metrics: string, labels: string): number | undefined {
  const line = metrics
    .split('\n')
    .find((l) => l.startsWith(`catchall_http_requests_total{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('catchall_http_requests_total', () => {
  const app = createServiceApp({
    logger: pino({ level: 'silent' }),
    metrics: new Registry(),
    readiness: {
      kafka: async () => {
        throw new NotReady('Kafka does not answer');
      },
    },
  });
  app.get('/ok', async () => ({ ok: true }));
  app.get('/late', async () => {
    throw errors.consistencyTimeout(100);
  });
  app.get('/gone', async () => {
    throw errors.unavailable('Postgres');
  });
  app.route({ method: ['GET', 'DELETE'], url: '/both', handler: async () => ({ ok: true }) });
  afterAll(() => app.close());

  it('counts each method of a route of several methods in its own series', async () => {
    for (let i = 0; i < 2; i += 1) expect((await app.inject('/both')).statusCode).toBe(200);
    expect((await app.inject({ method: 'DELETE', url: '/both' })).statusCode).toBe(200);
    const metrics = (await app.inject('/metrics')).body;

    expect(counted(metrics, 'method="GET",route="/both",status="200",code=""')).toBe(2);
    expect(counted(metrics, 'method="DELETE",route="/both",status="200",code=""')).toBe(1);
  });

  it("labels an error answer with its catalogue code, so that a client's consistency timeout is told apart from a dependency gone", async () => {
    expect((await app.inject('/ok')).statusCode).toBe(200);
    for (let i = 0; i < 2; i += 1) expect((await app.inject('/late')).statusCode).toBe(503);
    expect((await app.inject('/gone')).statusCode).toBe(503);
    expect((await app.inject('/nowhere')).statusCode).toBe(404);
    expect((await app.inject('/readyz')).statusCode).toBe(503);
    const metrics = (await app.inject('/metrics')).body;

    expect(
      counted(
        metrics,
        'method="GET",route="/late",status="503",code="CATCHALL_CONSISTENCY_TIMEOUT"',
      ),
    ).toBe(2);
    expect(
      counted(metrics, 'method="GET",route="/gone",status="503",code="CATCHALL_UNAVAILABLE"'),
    ).toBe(1);
    expect(
      counted(
        metrics,
        'method="GET",route="unmatched",status="404",code="CATCHALL_ROUTE_NOT_FOUND"',
      ),
    ).toBe(1);
    // Answers without a catalogue code have an empty one, which Prometheus drops.
    expect(counted(metrics, 'method="GET",route="/ok",status="200",code=""')).toBe(1);
    expect(counted(metrics, 'method="GET",route="/readyz",status="503",code=""')).toBe(1);
    // The latency histogram stays by route and status alone.
    expect(metrics).toMatch(
      /^catchall_http_request_duration_seconds_count\{method="GET",route="\/late",status="503"\} 2$/m,
    );
  });
});
