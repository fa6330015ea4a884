import { STATUS_CODES, maxHeaderSize, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorObject } from 'ajv';
import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import FindMyWay from 'find-my-way';
import { MAX_ENCODED_DOMAIN_LENGTH, MAX_RAW_DOMAIN_LENGTH } from '../domain/normalize-domain';
import { errorCatalogue, type ErrorCode } from '../domain/error-catalogue';
import { errors, type CatchallError } from './errors';
import { schemaRefusal } from './schema-refusal';

/** The codes an API may answer with: the catalogue's entries that have an HTTP status. */
export const HTTP_ERROR_CODES: readonly ErrorCode[] = Object.values(errorCatalogue)
  .filter((entry) => 'statusCode' in entry)
  .map((entry) => entry.code);

/** What every error answer holds: fastify's shape with a code from the catalogue. */
export const ErrorBody = Type.Object({
  statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
  code: Type.Unsafe<ErrorCode>({
    type: 'string',
    enum: HTTP_ERROR_CODES,
    description: 'see the error table',
  }),
  error: Type.String({ description: 'the status text' }),
  message: Type.String({ description: 'what went wrong and what to do' }),
  errors: Type.Optional(
    Type.Array(
      Type.Object({
        index: Type.Integer({ minimum: 0 }),
        code: Type.String({
          pattern: '^CATCHALL_[A-Z_]+$',
          description: 'what is wrong with this event (see the error table)',
        }),
        message: Type.String(),
      }),
      { description: 'a refused batch: each invalid event by its index' },
    ),
  ),
});

const DESCRIPTIONS: Record<number, string> = {
  400: 'invalid request: a domain, a field, the JSON or the HTTP message itself',
  401: 'no valid bearer token (when authentication is on); WWW-Authenticate names the Bearer scheme',
  404: 'not found',
  408: 'the request was not received completely in time',
  413: 'the body (or a batch or lookup) passes a limit',
  414: 'a path segment is too long for a domain',
  415: 'a media type or content coding this route does not take',
  417: 'an Expect header other than 100-continue',
  429: 'rate limited (when limits are on); Retry-After says when to come back',
  431: 'the request line and headers are too large',
  500: 'an unexpected failure; it is logged',
  503: 'a dependency is unavailable or overloaded; Retry-After says when to retry',
};

/**
 * The error answers of a route for its OpenAPI document and serializer, each with the
 * ErrorBody schema: the statuses any route can answer (400, 408, 414, 415, 417, 431, 500)
 * plus the ones given.
 */
export function errorResponses(
  statuses: number[],
): Record<number, ReturnType<typeof errorBodyWith>> {
  const all = [...new Set([400, 408, 414, 415, 417, 431, 500, ...statuses])].sort((a, b) => a - b);
  return Object.fromEntries(all.map((status) => [status, errorBodyWith(DESCRIPTIONS[status]!)]));
}

function errorBodyWith(description: string) {
  return Type.Composite([ErrorBody], { description });
}

/** An error of the catalogue as the JSON body every error answer has. */
export function errorBody(err: CatchallError, extra: Record<string, unknown> = {}) {
  return {
    statusCode: err.statusCode,
    code: err.code,
    error: STATUS_CODES[err.statusCode] ?? 'Error',
    message: err.message,
    ...extra,
  };
}

interface FrameworkError extends Partial<Omit<FastifyError, 'validation'>> {
  errors?: unknown[];
  validation?: unknown;
}

/** The part of the request fastify names in a validation error's `validationContext`. */
function validatedPart(request: FastifyRequest, context: string | undefined): unknown {
  switch (context) {
    case 'body':
      return request.body;
    case 'querystring':
      return request.query;
    case 'params':
      return request.params;
    case 'headers':
      return request.headers;
    default:
      return undefined;
  }
}

/**
 * Errors fastify, Node or a plugin raise before our code runs, mapped to the catalogue so
 * that every answer has a CATCHALL_ code; our own errors pass unchanged.
 */
export function toCatalogueError(err: FrameworkError, request: FastifyRequest): CatchallError {
  const code = err.code ?? '';
  if (HTTP_ERROR_CODES.includes(code as ErrorCode) && err.statusCode !== undefined) {
    return err as CatchallError;
  }
  if (err.validation !== undefined || code === 'FST_ERR_VALIDATION') {
    const found = Array.isArray(err.validation) ? (err.validation as ErrorObject[]) : [];
    const data = validatedPart(request, err.validationContext);
    return schemaRefusal(
      found,
      data,
      err.message ?? 'the request does not match the schema',
      err.validationContext,
    );
  }
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.bodyTooLarge(request.routeOptions.bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.unsupportedMediaType(JSON.stringify(request.headers['content-type'] ?? ''));
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errors.badRequest('Content-Length does not match the body');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return errors.invalidBody(err.message);
    default:
  }
  // zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR): the body is not in the coding it claims.
  // Brotli's are ERR__ERROR_FORMAT_* and the like (its decoder's error names, prefixed).
  if (code.startsWith('Z_') || code.startsWith('ERR__')) {
    return errors.invalidBody(
      `it is not valid ${String(request.headers['content-encoding'])} data (${err.message})`,
    );
  }
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return errors.badRequest('the body ended before its end');
  }
  const status = err.statusCode ?? 500;
  if (status === 413) return errors.bodyTooLarge(request.routeOptions.bodyLimit);
  if (status >= 400 && status < 500) return errors.badRequest(err.message ?? 'client error');
  return errors.internal();
}

/** Answers of Node's HTTP parser, written on the socket: no request object exists yet. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let answer: CatchallError;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') answer = errors.requestTimeout();
  else if (err.code === 'HPE_HEADER_OVERFLOW') answer = errors.headersTooLarge(maxHeaderSize);
  else answer = errors.badRequest(err.code ?? 'unreadable');
  writeRawAnswer(socket, answer);
}

/** An error answer written straight on a socket that no response object owns, then closed. */
export function writeRawAnswer(
  socket: Socket,
  answer: CatchallError,
  headers: string[] = [],
): void {
  const body = JSON.stringify(errorBody(answer));
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${answer.statusCode} ${STATUS_CODES[answer.statusCode]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        headers.map((line) => `${line}\r\n`).join('') +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroySoon();
}

/** Node answers an Expect header other than 100-continue (RFC 9110 section 10.1.1) here. */
function expectationFailed(req: IncomingMessage, res: ServerResponse): void {
  const body = JSON.stringify(
    errorBody(errors.expectationFailed(JSON.stringify(req.headers.expect))),
  );
  res.writeHead(417, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  res.end(body);
}

/** Errors fastify's router raises before a route is found (frameworkErrors). */
export function frameworkErrors(
  err: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const answer =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? errors.uriTooLong(MAX_ENCODED_DOMAIN_LENGTH, MAX_RAW_DOMAIN_LENGTH)
      : err.code === 'FST_ERR_BAD_URL'
        ? errors.badUrl(JSON.stringify(request.url.split('?')[0]))
        : toCatalogueError(err, request);
  void reply.code(answer.statusCode).send(errorBody(answer));
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * Each route the app declares, in a router of its own, so that a request for a path that
 * exists with another method gets 405 with `Allow` (RFC 9110 section 15.5.6), not 404.
 * Call before any route is added; the returned function lists the methods of a path.
 */
export function trackAllowedMethods(app: FastifyInstance): (path: string) => string[] {
  const router = FindMyWay({ maxParamLength: MAX_ENCODED_DOMAIN_LENGTH });
  const seen = new Set<string>();
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      const key = `${method} ${route.url}`;
      if (seen.has(key)) continue;
      seen.add(key);
      router.on(method as 'GET', route.url, () => undefined);
    }
  });
  return (path) => METHODS.filter((method) => router.find(method, path) !== null);
}

/** Answers Node's `checkExpectation` with the catalogue's 417 (Node's own has no body). */
export function answerExpectations(app: FastifyInstance): void {
  app.server.on('checkExpectation', expectationFailed);
}
