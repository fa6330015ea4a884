import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import type { DomainStatus } from '@catchall/core';
import { buildApp, type QueryAppOptions } from '../../query-api/src/app';
import type { DomainRow, ReadModel } from '../../query-api/src/read-model';
import { testLogger } from './logger';

/** A row of the read model as the query API reads it; times fixed, counts by `status`. */
export function domainRow(
  domain: string,
  status: DomainStatus,
  counts: Partial<Pick<DomainRow, 'delivered' | 'bounced'>> = {},
): DomainRow {
  return {
    domain,
    status,
    delivered: counts.delivered ?? (status === 'catch-all' ? 7 : 0),
    bounced: counts.bounced ?? (status === 'not catch-all' ? 1 : 0),
    firstEventAt: '2024-05-01T12:00:00.000Z',
    lastEventAt: '2024-05-01T12:00:01.000Z',
    updatedAt: '2024-05-01T12:00:02.000Z',
  };
}

/** What an in-memory read model was asked: reads of rows, and of the live positions. */
export interface ReadCounts {
  rows: number;
  positions: number;
}

/**
 * The read model's port in memory, with the semantics of the Postgres one (keyset pages in
 * domain order). Its live positions of `topic` are `positions` (partition -> next offset to
 * apply), which the caller may move; of any other topic, none. `reads` counts the calls.
 */
export function inMemoryReadModel(
  rows: DomainRow[],
  options: { topic?: string; positions?: Map<number, number> } = {},
): { readModel: ReadModel; reads: ReadCounts } {
  const byDomain = new Map(rows.map((r) => [r.domain, r]));
  const reads: ReadCounts = { rows: 0, positions: 0 };
  const readModel: ReadModel = {
    find: async (domain) => {
      reads.rows += 1;
      return byDomain.get(domain);
    },
    findMany: async (domains) => {
      reads.rows += 1;
      return new Map(
        domains.flatMap((d) => (byDomain.has(d) ? [[d, byDomain.get(d)!] as const] : [])),
      );
    },
    list: async (status, after, limit) =>
      [...byDomain.values()]
        .filter((r) => r.status === status && (after === undefined || r.domain > after))
        .sort((a, b) => (a.domain < b.domain ? -1 : 1))
        .slice(0, limit),
    livePositions: async (topic) => {
      reads.positions += 1;
      return topic === (options.topic ?? 'domain-events') ? new Map(options.positions) : new Map();
    },
  };
  return { readModel, reads };
}

/**
 * The query API over `readModel`, no socket: lookups of at most 3 domains, pages of at most
 * 10, max-age 1 s, the topic `domain-events`, reads waiting 2000 ms for a token, unless
 * `options` says otherwise; its Postgres check passes.
 */
export function queryApp(
  readModel: ReadModel,
  options: Partial<QueryAppOptions> = {},
): FastifyInstance {
  return buildApp({
    logger: testLogger('query-api'),
    registry: new Registry(),
    readModel,
    postgresReady: async () => undefined,
    lookupMaxDomains: 3,
    listMaxLimit: 10,
    cacheMaxAgeS: 1,
    topic: 'domain-events',
    consistencyWaitMs: 2000,
    ...options,
  });
}
