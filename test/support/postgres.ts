import pg from 'pg';
import { migrate } from '@catchall/consumer';
import { testInfra, uniqueName } from './env';
import { testLogger } from './logger';

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

function urlFor(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * A new, empty database (nothing migrated) named after `prefix`: its connection string, and
 * `drop()`, which removes it whatever connections are still open.
 */
export async function createEmptyDatabase(
  prefix: string,
): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const { postgresAdminUrl } = testInfra();
  const name = uniqueName(prefix).replace(/-/g, '_');
  const admin = new pg.Client({ connectionString: postgresAdminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: urlFor(postgresAdminUrl, name),
    async drop() {
      const client = new pg.Client({ connectionString: postgresAdminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A fresh database with the read model migrated, dropped again by `drop()`. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const empty = await createEmptyDatabase('catchall');
  const { url } = empty;
  await migrate({ databaseUrl: url, logger: testLogger() });
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  let dropping = false;
  // pool.end() resolves once it has asked its clients to close, not once they have: the
  // forced DROP below may terminate one still closing (57P01), which is the drop's own doing.
  // Any other error of an idle client stays an uncaught failure of the test.
  pool.on('error', (err) => {
    if (!(dropping && (err as { code?: string }).code === '57P01')) throw err;
  });
  return {
    url,
    pool,
    async drop() {
      dropping = true;
      await pool.end();
      await empty.drop();
    },
  };
}

/** The live read model's counts, keyed by domain. */
export async function readModelCounts(
  pool: pg.Pool,
): Promise<Map<string, { delivered: number; bounced: number }>> {
  const { rows } = await pool.query<{ domain: string; delivered: string; bounced: string }>(
    `SELECT s.domain, s.delivered, s.bounced FROM domain_stats s
     JOIN live_read_model l ON l.version = s.version`,
  );
  return new Map(
    rows.map((r) => [r.domain, { delivered: Number(r.delivered), bounced: Number(r.bounced) }]),
  );
}
