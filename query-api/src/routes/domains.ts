import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DOMAIN_STATUSES, domainStatus, errors, normalizeDomain } from '@catchall/core';
import type { ReadModel } from '../read-model';

const Params = Type.Object({
  domain: Type.String({ maxLength: 1024, description: 'the mail domain; normalized before use' }),
});

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

const NeverSeen = Type.Object({
  statusCode: Type.Literal(404),
  code: Type.Literal('CATCHALL_DOMAIN_NOT_SEEN'),
  error: Type.String(),
  message: Type.String(),
  domain: Type.String(),
  status: Type.Literal('unknown'),
});

/** GET /domains/<domain>: the domain's status and counts from the live read model. */
export function registerDomainRoutes(
  app: FastifyInstance,
  deps: { readModel: ReadModel; threshold: number },
): void {
  app.get<{ Params: Static<typeof Params> }>(
    '/domains/:domain',
    {
      schema: {
        summary: 'Whether a domain is a catch-all',
        params: Params,
        response: { 200: DomainAnswer, 404: NeverSeen },
      },
    },
    async (request, reply) => {
      const normalized = normalizeDomain(request.params.domain);
      if (!normalized.ok) throw errors.invalidDomain(request.params.domain, normalized.reason);
      const row = await deps.readModel.find(normalized.domain);
      if (!row) {
        return reply.code(404).send({
          statusCode: 404,
          code: 'CATCHALL_DOMAIN_NOT_SEEN',
          error: 'Not Found',
          message: `No event has been counted for ${normalized.domain} yet`,
          domain: normalized.domain,
          status: 'unknown',
        });
      }
      return {
        ...row,
        status: domainStatus(row, deps.threshold),
        firstEventAt: row.firstEventAt.toISOString(),
        lastEventAt: row.lastEventAt.toISOString(),
        updatedAt: row.updatedAt.toISOString(),
      };
    },
  );
}
