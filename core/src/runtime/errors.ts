import createError, { type FastifyError } from '@fastify/error';

export interface CatchallError extends FastifyError {
  statusCode: number;
  /** True when the same request may succeed later; retry and dead-letter logic read this. */
  retriable: boolean;
}

type Constructor = (...args: unknown[]) => CatchallError;

function defineError(
  code: string,
  statusCode: number,
  message: string,
  retriable: boolean,
): Constructor {
  const Ctor = createError(code, message, statusCode);
  return (...args: unknown[]) => Object.assign(new Ctor(...args), { retriable }) as CatchallError;
}

/**
 * Every error the system answers with, created once with a stable code. The README's
 * error table lists the same codes; a test checks that they match.
 */
export const errors = {
  invalidDomain: defineError(
    'CATCHALL_INVALID_DOMAIN',
    400,
    'Invalid domain "%s": it %s. Send a host name such as example.com',
    false,
  ),
  invalidBatch: defineError(
    'CATCHALL_INVALID_BATCH',
    400,
    'The batch was refused, nothing was accepted: %d of its events are invalid (see errors)',
    false,
  ),
  invalidBody: defineError('CATCHALL_INVALID_BODY', 400, 'Invalid body: %s', false),
  invalidRequest: defineError('CATCHALL_INVALID_REQUEST', 400, 'Invalid request: %s', false),
  invalidEventTime: defineError(
    'CATCHALL_INVALID_EVENT_TIME',
    400,
    'Invalid %s "%s": send an RFC 3339 date-time such as 2024-05-01T12:00:00Z',
    false,
  ),
  badRequest: defineError(
    'CATCHALL_BAD_REQUEST',
    400,
    'Malformed HTTP request (%s); nothing was read',
    false,
  ),
  badUrl: defineError(
    'CATCHALL_BAD_URL',
    400,
    'The path %s is not valid percent-encoded UTF-8',
    false,
  ),
  methodNotAllowed: defineError(
    'CATCHALL_METHOD_NOT_ALLOWED',
    405,
    'Method %s is not allowed on %s; the Allow header lists those that are',
    false,
  ),
  requestTimeout: defineError(
    'CATCHALL_REQUEST_TIMEOUT',
    408,
    'The request was not received completely in time; send it again',
    true,
  ),
  bodyTooLarge: defineError(
    'CATCHALL_BODY_TOO_LARGE',
    413,
    'The body is larger than this route takes: at most %d bytes (after decompression)',
    false,
  ),
  uriTooLong: defineError(
    'CATCHALL_URI_TOO_LONG',
    414,
    'A path segment is longer than %d characters (percent-encoded); a domain may have at most %d characters as sent',
    false,
  ),
  unsupportedMediaType: defineError(
    'CATCHALL_UNSUPPORTED_MEDIA_TYPE',
    415,
    'Unsupported Content-Type %s: send application/json (or application/x-ndjson to POST /events)',
    false,
  ),
  unsupportedEncoding: defineError(
    'CATCHALL_UNSUPPORTED_ENCODING',
    415,
    'Unsupported Content-Encoding %s: send gzip, deflate, br or identity',
    false,
  ),
  expectationFailed: defineError(
    'CATCHALL_EXPECTATION_FAILED',
    417,
    'Unsupported Expect header %s: only 100-continue is supported',
    false,
  ),
  headersTooLarge: defineError(
    'CATCHALL_HEADERS_TOO_LARGE',
    431,
    'The request line and headers are larger than %d bytes',
    false,
  ),
  invalidCursor: defineError(
    'CATCHALL_INVALID_CURSOR',
    400,
    'Invalid cursor: send back the nextCursor of the previous page unchanged',
    false,
  ),
  batchTooLarge: defineError(
    'CATCHALL_BATCH_TOO_LARGE',
    413,
    'A batch may hold at most %d events; split it',
    false,
  ),
  lookupTooLarge: defineError(
    'CATCHALL_LOOKUP_TOO_LARGE',
    413,
    'A lookup may hold at most %d domains; split it',
    false,
  ),
  unauthorized: defineError(
    'CATCHALL_UNAUTHORIZED',
    401,
    'Send a valid token in the Authorization header: Bearer <token>',
    false,
  ),
  rateLimited: defineError(
    'CATCHALL_RATE_LIMITED',
    429,
    'Too many requests from this client; retry in %s',
    true,
  ),
  routeNotFound: defineError('CATCHALL_ROUTE_NOT_FOUND', 404, 'No route %s %s', false),
  unavailable: defineError(
    'CATCHALL_UNAVAILABLE',
    503,
    '%s is unavailable; nothing was accepted, retry later',
    true,
  ),
  overloaded: defineError(
    'CATCHALL_OVERLOADED',
    503,
    'The ingest queue is full; nothing was accepted, retry later',
    true,
  ),
  commitUnknown: defineError(
    'CATCHALL_COMMIT_UNKNOWN',
    503,
    'Kafka did not confirm the commit of the events (%s); they may or may not be stored, retry with the same event ids',
    true,
  ),
  internal: defineError('CATCHALL_INTERNAL', 500, 'Internal error; it was logged', false),
  timeout: defineError(
    'CATCHALL_TIMEOUT',
    503,
    'Kafka did not acknowledge within %d ms; the event may or may not be stored, retry with the same event id',
    true,
  ),
};
