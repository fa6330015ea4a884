import type pg from 'pg';
import { errors } from '@catchall/core';

export interface DomainRow {
  domain: string;
  delivered: number;
  bounced: number;
  firstEventAt: Date;
  lastEventAt: Date;
  updatedAt: Date;
}

export interface ReadModel {
  /** The domain's row in the live read model version, or undefined when never seen. */
  find(domain: string): Promise<DomainRow | undefined>;
  /** The rows of those domains that were ever seen, keyed by domain: one index scan. */
  findMany(domains: string[]): Promise<Map<string, DomainRow>>;
  ping(): Promise<void>;
}

const FIND = `
  SELECT s.domain, s.delivered, s.bounced, s.first_event_at AS "firstEventAt",
         s.last_event_at AS "lastEventAt", s.updated_at AS "updatedAt"
  FROM live_read_model l
  JOIN domain_stats s ON s.version = l.version AND s.domain = $1`;

const FIND_MANY = `
  SELECT s.domain, s.delivered, s.bounced, s.first_event_at AS "firstEventAt",
         s.last_event_at AS "lastEventAt", s.updated_at AS "updatedAt"
  FROM live_read_model l
  JOIN domain_stats s ON s.version = l.version AND s.domain = ANY($1::text[])`;

/** Postgres errors that mean "not reachable now": connection refused, reset, timeouts. */
function isConnectivity(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return (
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EPIPE|57P0[123]|08\d{3})$/.test(code) ||
    /timeout|terminat|Connection/i.test((err as Error).message ?? '')
  );
}

/** The read side of the read model: one primary-key lookup per question. */
export function createReadModel(options: { pool: pg.Pool }): ReadModel {
  async function query(name: string, text: string, values: unknown[]): Promise<DomainRow[]> {
    try {
      return (await options.pool.query<DomainRow>({ name, text, values })).rows;
    } catch (err) {
      if (isConnectivity(err)) throw errors.unavailable('Postgres');
      throw err;
    }
  }

  return {
    async find(domain) {
      return (await query('find-domain', FIND, [domain]))[0];
    },
    async findMany(domains) {
      const rows = await query('find-domains', FIND_MANY, [domains]);
      return new Map(rows.map((row) => [row.domain, row]));
    },
    async ping() {
      await options.pool.query('SELECT 1');
    },
  };
}
