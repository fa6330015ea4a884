import type { ServerOptions } from 'node:http';

/** Fastify options for the Node HTTP server under it, as nodeServerOptions returns them. */
export interface NodeServerOptions {
  requestTimeout: number;
  http: ServerOptions;
}

/**
 * How often Node checks its connections against the timeouts, in milliseconds, for a
 * request timeout of `timeoutMs`: a tenth of it, between 100 ms and 1 s. Node's default
 * is 30 s, which let a 1 s timeout fire only after up to 30 s more (and fastify's and
 * Node's defaults together after 61 to 90 s).
 */
export function checkingIntervalMs(timeoutMs: number): number {
  return Math.min(1000, Math.max(100, Math.floor(timeoutMs / 10)));
}

/**
 * Options of the Node HTTP server that answer a request whose line, headers and body have not all arrived
 * within `timeoutMs` milliseconds (positive) with 408, at most checkingIntervalMs later.
 * Node's `requestTimeout` and `headersTimeout` both count from the request's first byte;
 * headers get the same time as the whole request (Node's 60 s default would be longer).
 * Fastify sets the server's `requestTimeout` from its own option after creating it, so
 * both carry the value. `requireHostHeader` is off so that a request without Host reaches
 * requireHost, which answers it with the catalogue's body (Node's own 400 has none).
 */
export function nodeServerOptions(timeoutMs: number): NodeServerOptions {
  return {
    requestTimeout: timeoutMs,
    http: {
      requestTimeout: timeoutMs,
      headersTimeout: timeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(timeoutMs),
      requireHostHeader: false,
    },
  };
}
