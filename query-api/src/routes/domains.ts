import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  bearerSecurity,
  CURSOR_FORMAT,
  DOMAIN_STATUSES,
  DomainField,
  errorBody,
  errorCatalogue,
  errorResponses,
  errors,
  normalizeDomain,
} from '@catchall/core';
import type { ConsistencyWatcher } from '../consistency-watcher';
import type { DomainRow, ReadModel } from '../read-model';
import { awaitConsistency, ConsistencyHeaders } from './consistency';

const Params = Type.Object({ domain: DomainField });

const Status = Type.Union(DOMAIN_STATUSES.map((s) => Type.Literal(s)));

export const DomainAnswer = Type.Object({
  domain: Type.String({ description: 'normalized domain' }),
  status: Status,
  delivered: Type.Integer(),
  bounced: Type.Integer(),
  firstEventAt: Type.String({ format: 'date-time' }),
  lastEventAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

const NeverSeen = Type.Object(
  {
    statusCode: Type.Literal(404),
    code: Type.Literal(errorCatalogue.domainNotSeen.code),
    error: Type.String(),
    message: Type.String(),
    domain: Type.String(),
    status: Type.Literal('unknown'),
  },
  { description: 'no event was counted for the domain yet' },
);

/** A GET answered 304 to If-None-Match: no body. */
const NotModified = Type.Null({ description: 'Not Modified: the ETag still matches' });

const lookupBody = (maxDomains: number) =>
  Type.Object(
    { domains: Type.Array(DomainField, { minItems: 1, maxItems: maxDomains }) },
    { additionalProperties: false },
  );
type LookupBody = Static<ReturnType<typeof lookupBody>>;

const LookupResult = Type.Object({
  input: Type.String({ description: 'the domain as sent' }),
  domain: Type.Optional(Type.String({ description: 'normalized; absent when invalid' })),
  status: Type.Optional(Status),
  found: Type.Boolean({ description: 'false for a domain never seen (status unknown) or invalid' }),
  delivered: Type.Optional(Type.Integer()),
  bounced: Type.Optional(Type.Integer()),
  firstEventAt: Type.Optional(Type.String({ format: 'date-time' })),
  lastEventAt: Type.Optional(Type.String({ format: 'date-time' })),
  updatedAt: Type.Optional(Type.String({ format: 'date-time' })),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
});

const listQuery = (maxLimit: number) =>
  Type.Object(
    {
      status: Status,
      limit: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: maxLimit,
          default: Math.min(100, maxLimit),
          description: 'domains per page (decimal digits only)',
        }),
      ),
      cursor: Type.Optional(
        Type.String({
          maxLength: 2048,
          format: CURSOR_FORMAT,
          description: 'nextCursor of the previous page, unchanged (400 otherwise)',
        }),
      ),
    },
    { additionalProperties: false },
  );
type ListQuery = Static<ReturnType<typeof listQuery>>;

const ListAnswer = Type.Object({
  status: Status,
  items: Type.Array(DomainAnswer),
  nextCursor: Type.Union([Type.String(), Type.Null()], {
    description: 'pass as cursor for the next page; null on the last page',
  }),
});

/** An opaque cursor: the last domain of the page, base64url-encoded. */
function encodeCursor(domain: string): string {
  return Buffer.from(JSON.stringify({ after: domain })).toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const { after } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      after?: unknown;
    };
    // Only what encodeCursor writes: a domain as the read model holds it (a forged one with
    // a NUL, say, would otherwise reach Postgres and fail there).
    if (typeof after === 'string') {
      const normalized = normalizeDomain(after);
      if (normalized.ok && normalized.domain === after) return after;
    }
  } catch {
    // Falls through to the same answer as a well-formed cursor of the wrong shape.
  }
  throw errors.invalidCursor();
}

function answer(row: DomainRow) {
  return {
    domain: row.domain,
    status: row.status,
    delivered: row.delivered,
    bounced: row.bounced,
    firstEventAt: row.firstEventAt,
    lastEventAt: row.lastEventAt,
    updatedAt: row.updatedAt,
  };
}

/**
 * GET /domains/<domain>: the domain's status and counts from the live read model.
 * POST /domains/lookup: many at once, answered in the order asked, one query.
 * GET /domains?status=: the domains with a status, a page at a time.
 * GET answers may be cached for `cacheMaxAgeS` (within the projector's staleness bound);
 * each 200 carries an ETag (conditionalGets), so a client revalidating an unchanged answer
 * gets 304 and no body. A lookup is not conditional.
 */
export function registerDomainRoutes(
  app: FastifyInstance,
  deps: {
    readModel: ReadModel;
    lookupMaxDomains: number;
    listMaxLimit: number;
    cacheMaxAgeS: number;
    /** The routes take a bearer token (QUERY_API_TOKENS set): 401 and the scheme are documented. */
    authenticated: boolean;
    /** Holds reads with a Consistency-Token until the read model applied its records. */
    watcher: ConsistencyWatcher;
    /** The events topic the read model follows. */
    topic: string;
  },
): void {
  const consistency = awaitConsistency(deps.watcher, deps.topic);
  const auth = deps.authenticated ? [401] : [];
  const security = bearerSecurity(deps.authenticated);
  // With tokens, `public` would let a shared cache answer a request that has none with the
  // answer to one that had (RFC 9111 section 3.5): only the client's own cache may keep it.
  const scope = deps.authenticated ? 'private' : 'public';
  const cacheControl =
    deps.cacheMaxAgeS > 0 ? `${scope}, max-age=${deps.cacheMaxAgeS}` : 'no-cache';
  app.addHook('onSend', (request, reply, payload, done) => {
    if ((request.method === 'GET' || request.method === 'HEAD') && reply.statusCode < 500) {
      reply.header('cache-control', cacheControl);
      // A cache must not answer a read that waits for its token with an older answer.
      if (request.routeOptions.url === '/domains/:domain') {
        reply.header('vary', 'Consistency-Token');
      }
    }
    done(null, payload);
  });

  app.get<{ Querystring: ListQuery }>(
    '/domains',
    {
      schema: {
        summary: `Domains with a status, a page at a time (at most ${deps.listMaxLimit} a page)`,
        description:
          'Keyset pagination in domain order: follow nextCursor until it is null. A domain whose ' +
          'status changes while you page may appear in the old status, the new one, or both.',
        querystring: listQuery(deps.listMaxLimit),
        response: { 200: ListAnswer, 304: NotModified, ...errorResponses([...auth, 503]) },
        ...security,
      },
    },
    async (request) => {
      const { status, cursor } = request.query;
      const limit = request.query.limit ?? Math.min(100, deps.listMaxLimit);
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      // One row more than the page tells whether another page follows.
      const rows = await deps.readModel.list(status, after, limit + 1);
      const page = rows.slice(0, limit);
      return {
        status,
        items: page.map(answer),
        nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.domain) : null,
      };
    },
  );

  app.get<{ Params: Static<typeof Params>; Headers: Static<typeof ConsistencyHeaders> }>(
    '/domains/:domain',
    {
      schema: {
        summary: 'Whether a domain is a catch-all',
        params: Params,
        headers: ConsistencyHeaders,
        response: {
          200: DomainAnswer,
          304: NotModified,
          ...errorResponses([...auth, 503]),
          404: NeverSeen,
        },
        ...security,
      },
    },
    async (request, reply) => {
      const normalized = normalizeDomain(request.params.domain);
      if (!normalized.ok) throw errors.invalidDomain(request.params.domain, normalized.reason);
      // After the domain's check: no token makes an invalid domain valid, so it waits for none.
      await consistency(request);
      const row = await deps.readModel.find(normalized.domain);
      if (!row) {
        return reply.code(404).send(
          errorBody(errors.domainNotSeen(normalized.domain), {
            domain: normalized.domain,
            status: 'unknown',
          }),
        );
      }
      return answer(row);
    },
  );

  app.post<{ Body: LookupBody; Headers: Static<typeof ConsistencyHeaders> }>(
    '/domains/lookup',
    {
      preHandler: consistency,
      schema: {
        headers: ConsistencyHeaders,
        summary: `Whether each of many domains is a catch-all (at most ${deps.lookupMaxDomains})`,
        description: `More than ${deps.lookupMaxDomains} domains is 413 CATCHALL_LOOKUP_TOO_LARGE. A lookup is not conditional: If-None-Match and the like are ignored (RFC 9110 section 13.2.1).`,
        body: lookupBody(deps.lookupMaxDomains),
        response: {
          200: Type.Object({ results: Type.Array(LookupResult) }),
          ...errorResponses([...auth, 413, 503]),
        },
        ...security,
      },
      // Before the schema, whose maxItems would answer 400: too many domains is the 413.
      preValidation: async (request) => {
        const domains = (request.body as { domains?: unknown } | null)?.domains;
        if (Array.isArray(domains) && domains.length > deps.lookupMaxDomains) {
          throw errors.lookupTooLarge(deps.lookupMaxDomains);
        }
      },
    },
    async (request) => {
      const inputs = request.body.domains;
      const normalized = inputs.map((input) => ({ input, result: normalizeDomain(input) }));
      const valid = normalized.flatMap(({ result }) => (result.ok ? [result.domain] : []));
      const rows =
        valid.length > 0
          ? await deps.readModel.findMany([...new Set(valid)])
          : new Map<string, DomainRow>();
      return {
        results: normalized.map(({ input, result }) => {
          if (!result.ok) {
            const err = errors.invalidDomain(input, result.reason);
            return { input, found: false, error: { code: err.code, message: err.message } };
          }
          const row = rows.get(result.domain);
          return row
            ? { input, found: true, ...answer(row) }
            : { input, found: false, domain: result.domain, status: 'unknown' as const };
        }),
      };
    },
  );
}
