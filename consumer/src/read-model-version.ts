import type pg from 'pg';
import {
  domainStatusSql,
  errorCatalogue,
  queryPool,
  withTransaction,
  type Logger,
} from '@catchall/core';
import { eventIdIndexSql, eventIdTable } from './event-ids';

/**
 * Read model versions: each is one complete projection of the topic, in its own partition
 * of domain_stats (`domain_stats_v<N>`), with its own positions. `live_read_model` names the
 * one queries are served from; a rebuild fills a new version beside it and switches.
 */
export interface ReadModelVersion {
  version: number;
  state: 'building' | 'ready';
  live: boolean;
  threshold: number | null;
  consumerGroup: string | null;
  startedFrom: string | null;
  createdAt: Date;
  readyAt: Date | null;
  /**
   * Records its rebuild left out for a reason that may not last, by dead-letter reason
   * (`{"unknown-schema-id": 3}`); null when none. Such a version goes live only when asked
   * to accept them (see switchLive).
   */
  leftOut: Record<string, number> | null;
  /** The version's rows (domains), when asked for: a count of its partition. */
  rows?: number;
}

/** A version that does not exist or cannot take the operation asked (a live one dropped, say). */
export class VersionError extends Error {
  readonly code = errorCatalogue.readModelVersion.code;
  readonly retriable = errorCatalogue.readModelVersion.retriable;
}

function partitionTable(version: number): string {
  if (!Number.isInteger(version) || version < 1) throw new VersionError(`bad version ${version}`);
  return `domain_stats_v${version}`;
}

/** The read model version queries are served from (the one the live projector writes). */
export async function liveReadModelVersion(pool: pg.Pool): Promise<number> {
  const { rows } = await queryPool<{ version: number }>(
    pool,
    'SELECT version FROM live_read_model',
  );
  const row = rows[0];
  if (!row) throw new VersionError('live_read_model is empty: run the migrations first');
  return row.version;
}

export async function listVersions(
  pool: pg.Pool,
  options: { countRows?: boolean } = {},
): Promise<ReadModelVersion[]> {
  const { rows } = await queryPool<ReadModelVersion>(
    pool,
    `
    SELECT v.version, v.state, (l.version IS NOT NULL) AS live,
           v.catch_all_threshold AS threshold, v.consumer_group AS "consumerGroup",
           v.started_from AS "startedFrom", v.created_at AS "createdAt", v.ready_at AS "readyAt",
           v.left_out AS "leftOut"
    FROM read_model_versions v
    LEFT JOIN live_read_model l ON l.version = v.version
    ORDER BY v.version`,
  );
  if (options.countRows) {
    for (const v of rows) {
      const counted = await queryPool<{ n: number }>(
        pool,
        `SELECT count(*)::float8 AS n FROM ${partitionTable(v.version)}`,
      );
      v.rows = counted.rows[0]!.n;
    }
  }
  return rows;
}

export async function getVersion(pool: pg.Pool, version: number): Promise<ReadModelVersion> {
  const found = (await listVersions(pool)).find((v) => v.version === version);
  if (!found) throw new VersionError(`read model version ${version} does not exist`);
  return found;
}

/**
 * The threshold a projector applies to a version: the one recorded with it. A version
 * without one (written before statuses were stored) records `configured` and gets the
 * statuses of its existing rows computed, once.
 */
export async function openVersion(
  pool: pg.Pool,
  version: number,
  configured: number,
  logger: Logger,
): Promise<number> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ threshold: number | null }>(
      'SELECT catch_all_threshold AS threshold FROM read_model_versions WHERE version = $1 FOR UPDATE',
      [version],
    );
    if (rows.length === 0) throw new VersionError(`read model version ${version} does not exist`);
    let threshold = rows[0]!.threshold;
    if (threshold === null) {
      threshold = configured;
      await client.query(
        'UPDATE read_model_versions SET catch_all_threshold = $2 WHERE version = $1',
        [version, threshold],
      );
      const { rowCount } = await client.query(
        `UPDATE domain_stats SET status = ${domainStatusSql('delivered', 'bounced', '$2::bigint')}
           WHERE version = $1`,
        [version, threshold],
      );
      logger.info({ version, threshold, rows: rowCount }, 'recorded the version threshold');
    } else if (threshold !== configured) {
      logger.warn(
        { version, threshold, configured },
        'this version was built with another CATCH_ALL_THRESHOLD; its own applies (rebuild to change it)',
      );
    }
    return threshold;
  });
}

/** A new, empty version in state `building`, with its own partition of domain_stats. */
export async function createVersion(
  pool: pg.Pool,
  options: { threshold: number; consumerGroup: (version: number) => string; startedFrom: string },
): Promise<number> {
  return withTransaction(pool, async (client) => {
    // Serializes concurrent creations (the next number is read, then used).
    await client.query('LOCK TABLE read_model_versions IN SHARE ROW EXCLUSIVE MODE');
    const { rows } = await client.query<{ next: number }>(
      'SELECT coalesce(max(version), 0) + 1 AS next FROM read_model_versions',
    );
    const version = rows[0]!.next;
    await client.query(
      `INSERT INTO read_model_versions
           (version, state, catch_all_threshold, consumer_group, started_from, note, ready_at)
         VALUES ($1, 'building', $2, $3, $4, 'rebuild from the topic', NULL)`,
      [version, options.threshold, options.consumerGroup(version), options.startedFrom],
    );
    // domain_stats before event_ids, the order a flush with client ids locks them in (see
    // TABLES_IN_ORDER in projection-store.ts): a flush of the live version holding one while
    // it waits for the other would otherwise deadlock with this.
    await client.query(
      `CREATE TABLE ${partitionTable(version)} PARTITION OF domain_stats
         FOR VALUES IN (${version}) WITH (fillfactor = 80)`,
    );
    await client.query(
      `CREATE TABLE ${eventIdTable(version)} PARTITION OF event_ids
         FOR VALUES IN (${version}) PARTITION BY RANGE (at)`,
    );
    await client.query(eventIdIndexSql(version));
    return version;
  });
}

/**
 * The version has caught up with the topic; `leftOut` (by dead-letter reason) the records
 * its rebuild left out for a reason that may not last, when there were any.
 */
export async function markReady(
  pool: pg.Pool,
  version: number,
  leftOut?: Record<string, number>,
): Promise<void> {
  await queryPool(
    pool,
    `UPDATE read_model_versions SET state = 'ready', ready_at = now(), left_out = $2
     WHERE version = $1`,
    [version, leftOut === undefined ? null : JSON.stringify(leftOut)],
  );
}

/**
 * Makes `version` the live one in one transaction: queries see the old version or the new
 * one, never a mix. Only a `ready` version can go live (a switch back is a rollback).
 * With `notBehindOn`, the switch happens only if the new version's position on every
 * partition of that topic is at or past the live one's (the live positions are locked for
 * the check): then no answer goes backwards at the switch. Otherwise it returns null.
 * A version whose rebuild left records out for a reason that may not last (`leftOut`) is
 * refused (VersionError) unless `acceptLeftOut`.
 */
export async function switchLive(
  pool: pg.Pool,
  version: number,
  options: { notBehindOn?: string; acceptLeftOut?: boolean } = {},
): Promise<{ from: number; to: number } | null> {
  return withTransaction(pool, async (client) => {
    const live = await client.query<{ version: number }>(
      'SELECT version FROM live_read_model FOR UPDATE',
    );
    const target = await client.query<{ state: string; left_out: Record<string, number> | null }>(
      'SELECT state, left_out FROM read_model_versions WHERE version = $1 FOR SHARE',
      [version],
    );
    if (target.rows.length === 0) {
      throw new VersionError(`read model version ${version} does not exist`);
    }
    if (target.rows[0]!.state !== 'ready') {
      throw new VersionError(
        `read model version ${version} is still being built; it can go live once it has caught up`,
      );
    }
    const leftOut = target.rows[0]!.left_out;
    if (leftOut !== null && !options.acceptLeftOut) {
      throw new VersionError(
        `read model version ${version} left records out for a reason that may not last (${JSON.stringify(leftOut)}): check the schema registry and rebuild again, or switch with --accept-dead-letters`,
      );
    }
    const from = live.rows[0]!.version;
    if (options.notBehindOn !== undefined && from !== version) {
      const behind = await client.query(
        `SELECT 1 FROM projection_positions l
           LEFT JOIN projection_positions n
             ON n.version = $2 AND n.topic = l.topic AND n.partition = l.partition
           WHERE l.version = $1 AND l.topic = $3
             AND (n.next_offset IS NULL OR n.next_offset < l.next_offset)
           FOR UPDATE OF l`,
        [from, version, options.notBehindOn],
      );
      // Nothing was written: committing only releases the locks.
      if (behind.rowCount !== 0) return null;
    }
    await client.query('UPDATE live_read_model SET version = $1, switched_at = now()', [version]);
    return { from, to: version };
  });
}

/**
 * Drops a version that is not live: its partition, positions and record; what its redrive
 * ledger knew of each origin is kept (table redrive_ledger_dropped) for the other versions.
 */
export async function dropVersion(pool: pg.Pool, version: number): Promise<void> {
  await withTransaction(pool, async (client) => {
    // Holding the live row keeps a concurrent switch from making this version live now.
    const live = await client.query<{ version: number }>(
      'SELECT version FROM live_read_model FOR UPDATE',
    );
    if (live.rows[0]?.version === version) {
      throw new VersionError(
        `read model version ${version} is live; switch to another one before dropping it`,
      );
    }
    const found = await client.query('SELECT 1 FROM read_model_versions WHERE version = $1', [
      version,
    ]);
    if (found.rowCount === 0)
      throw new VersionError(`read model version ${version} does not exist`);
    await client.query(`DROP TABLE IF EXISTS ${partitionTable(version)}`);
    await client.query(`DROP TABLE IF EXISTS ${eventIdTable(version)}`);
    await client.query('DELETE FROM projection_positions WHERE version = $1', [version]);
    // Kept for the versions that counted these originals themselves (redrive-ledger.ts).
    await client.query(
      `INSERT INTO redrive_ledger_dropped (origin, value_digest)
       SELECT origin, coalesce(value_digest, '') FROM redriven_origins WHERE version = $1
       ON CONFLICT DO NOTHING`,
      [version],
    );
    await client.query('DELETE FROM redriven_origins WHERE version = $1', [version]);
    await client.query('DELETE FROM projection_sources WHERE version = $1', [version]);
    await client.query('DELETE FROM read_model_versions WHERE version = $1', [version]);
  });
}
