import autocannon from 'autocannon';
import { latencyHistogram } from './report';

export interface Load {
  url: string;
  connections: number;
  seconds: number;
  method: 'GET' | 'PUT' | 'POST';
  path: () => string;
  body?: () => string;
  /** Events (or lookups) per request, for the per-item rate. */
  itemsPerRequest: number;
  /** Statuses that count as answered (2xx always do). */
  okStatuses?: number[];
}

/** A fixed-duration HTTP load with autocannon; latencies of every response in a histogram. */
export async function httpLoad(l: Load) {
  const latency = latencyHistogram();
  const extra = new Set(l.okStatuses ?? []);
  let extraOk = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: l.url,
        connections: l.connections,
        duration: l.seconds,
        requests: [
          {
            method: l.method,
            setupRequest: (req) => ({
              ...req,
              path: l.path(),
              ...(l.body
                ? { body: l.body(), headers: { 'content-type': 'application/json' } }
                : {}),
            }),
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, status, _bytes, responseTime) => {
      if (extra.has(status)) extraOk += 1;
      latency.record(responseTime);
    });
  });
  const ok = result['2xx'] + extraOk;
  return {
    connections: l.connections,
    'items/s': Math.round((ok * l.itemsPerRequest) / l.seconds),
    'requests/s': Math.round(ok / l.seconds),
    ...latency.summary(),
    failed: result.non2xx - extraOk,
    errors: result.errors + result.timeouts,
  };
}
