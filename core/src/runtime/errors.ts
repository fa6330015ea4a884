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
  timeout: defineError(
    'CATCHALL_TIMEOUT',
    503,
    'Kafka did not acknowledge within %d ms; the event may or may not be stored, retry with the same event id',
    true,
  ),
};
