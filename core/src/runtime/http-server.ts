import type { IncomingMessage, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { errors } from './errors';
import { errorBody, writeRawAnswer } from './http-errors';

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
 * Options of the Node HTTP server under fastify that answer a request whose line, headers
 * and body have not all arrived within `timeoutMs` milliseconds (positive) with 408 (through
 * clientErrorHandler), at most checkingIntervalMs later. Node's `requestTimeout` and
 * `headersTimeout` both count from the request's first byte; headers get the same time as
 * the whole request (Node's 60 s default would be longer). Fastify sets the server's
 * `requestTimeout` from its own option after creating it, so both carry the value.
 * `requireHostHeader` is off so that a request without Host reaches requireHost, which
 * answers it with the catalogue's body (Node's own 400 has none).
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

/**
 * A Host value (RFC 9110 section 7.2): `uri-host [":" port]`, the host an IP literal in
 * brackets or a reg-name (RFC 3986 section 3.2.2); empty when the target has no authority.
 */
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/;

/**
 * An HTTP/1.1 request without a Host header, with more than one, or with one whose value is
 * not a host, is answered 400 CATCHALL_BAD_REQUEST (RFC 9112 section 3.2). Node checks the
 * first case itself and answers without a body; the server is built without that check
 * (nodeServerOptions) so that this hook gives the catalogue's answer; Node keeps only the
 * first of several Host lines, so they are counted in the raw headers.
 */
export function requireHost(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    const raw = request.raw;
    if (raw.httpVersionMajor !== 1 || raw.httpVersionMinor < 1) {
      done();
      return;
    }
    let hosts = 0;
    for (let i = 0; i < raw.rawHeaders.length; i += 2) {
      const name = raw.rawHeaders[i]!;
      if (name.length === 4 && name.toLowerCase() === 'host') hosts += 1;
    }
    const host = request.headers.host ?? '';
    if (hosts === 1 && HOST_VALUE.test(host)) {
      done();
      return;
    }
    const answer = errors.badRequest(
      hosts === 0
        ? 'an HTTP/1.1 request needs a Host header'
        : hosts > 1
          ? 'more than one Host header'
          : `the Host header ${JSON.stringify(host)} is not a host and optional port`,
    );
    void reply.code(400).header('connection', 'close').send(errorBody(answer));
  });
}

/**
 * Node hands a CONNECT request (RFC 9110 section 9.3.6) to the server's `connect` event and,
 * with no listener, closes the connection without an answer. These services are not
 * proxies: 405 CATCHALL_METHOD_NOT_ALLOWED, with `Allow` listing the methods of the target
 * when it is a path the app serves, and empty otherwise (an authority such as `host:443`
 * names no resource here; section 10.2.1 allows an empty Allow). The connection closes.
 */
export function answerConnect(
  app: FastifyInstance,
  allowedMethods: (path: string) => string[],
): void {
  app.server.on('connect', (req: IncomingMessage, socket: Socket) => {
    const target = req.url ?? '';
    const path = target.startsWith('/') ? target.split('?')[0]! : '';
    const allowed = path === '' ? [] : allowedMethods(path);
    const answer = errors.methodNotAllowed('CONNECT', target);
    writeRawAnswer(socket, answer, [`Allow: ${allowed.join(', ')}`]);
  });
}
