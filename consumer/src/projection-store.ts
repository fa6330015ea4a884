import type pg from 'pg';
import {
  domainStatusSql,
  errorCatalogue,
  evolve,
  foldInto,
  queryPool,
  withTransaction,
  type CountedEvent,
  type DomainDelta,
  type EventTry,
} from '@catchall/core';
import {
  DEFAULT_DEDUPE_WINDOW_MS,
  EventCountedConcurrently,
  createEventIdStore,
  type EventIdObserver,
} from './event-ids';
import { admitRedriven, markDeadLettered, type AdmittedRedriven } from './redrive-ledger';
import { plainArray, textArray } from './pg-array';

/**
 * How long a partition's flushes take their domains' rows before looking up event ids, once
 * one of them found tries of its domains counted concurrently by another partition.
 */
export const LOCKING_MS = 60_000;

/** What a committed flush's redriven events became (see admitRedriven). */
export interface RedrivenOutcome {
  /** Copies counted: their origin was dead-lettered, or the version could not judge it. */
  copies: number;
  /** Copies not counted: their origin was counted already (by a copy, or by itself). */
  alreadyCounted: number;
  /** Records whose `redrive-origin` names no record before them in their partition: counted. */
  notCopies: number;
}

/** An event of a dead letter redriven into the topic (its record carries `redrive-origin`). */
export interface RedrivenEvent {
  /** `<topic>:<partition>:<offset>` of the record first dead-lettered: counted once. */
  origin: string;
  /** The redriven record's offset in the flush's partition. */
  offset: number;
  domain: string;
  event: CountedEvent;
  /** The id the client chose, deduplicated as any other once the origin counts. */
  eventId?: string;
  /** The redriven record's Kafka timestamp, epoch ms. */
  at: number;
  /** The record's valueDigest: a copy's is its origin's. Absent: not known (any). */
  digest?: string;
}

/** A record a flush dead-lettered, as the redrive ledger takes it (markDeadLettered). */
export interface DeadLetteredRecord {
  /** Its own coordinates, `<topic>:<partition>:<offset>`. */
  coordinates: string;
  /** The origin its `redrive-origin` names, when that is a copy's (copyOrigin). */
  copyOf?: string;
  /** Its valueDigest. Absent: not known (any copy's matches). */
  digest?: string;
}

export interface PartitionFlush {
  topic: string;
  partition: number;
  /** The position this flush starts from, as last read or written; null when none is stored. */
  expected: number | null;
  /** The next offset to apply once this flush is committed. */
  next: number;
  /** What the events with ids the ingest API made add, by domain. */
  deltas: Map<string, DomainDelta>;
  /**
   * Events with ids the client chose, in offset order: each counts unless a counted try of
   * the same event is within the deduplication window (decideTries).
   */
  tries?: readonly EventTry[];
  /**
   * Redriven dead letters, in offset order: each counts unless the version counted its origin
   * before (the redrive ledger, admitRedriven).
   */
  redriven?: readonly RedrivenEvent[];
  /** The records among the flush's that were dead-lettered, in offset order (the redrive ledger). */
  deadLettered?: readonly DeadLetteredRecord[];
  /** The newest Kafka timestamp among the flush's records (epoch ms), when known. */
  newestRecordAt?: number;
}

export type FlushOutcome = 'committed' | 'conflict';

/** A flush lost its compare-and-set (FlushOutcome `conflict`): another member moved the position first. */
export class PositionConflict extends Error {
  readonly code = errorCatalogue.positionConflict.code;
  readonly retriable = errorCatalogue.positionConflict.retriable;
}

export interface ProjectionStore {
  /** The stored next offset to apply for a partition, or null when none was ever stored. */
  loadPosition(topic: string, partition: number): Promise<number | null>;
  /**
   * Writes the deltas and the tries that count, remembers those tries, and moves the position
   * from `expected` to `next`, in one transaction. `conflict` means another writer moved the
   * position first: nothing was written.
   */
  flush(batch: PartitionFlush): Promise<FlushOutcome>;
  /**
   * Drops the event ids no try can need any more and prepares the coming time range (see
   * EventIdStore.expire); the projector calls it periodically.
   */
  expireEventIds(): Promise<void>;
  /**
   * Records the Kafka cluster the positions of `topic` belong to, or checks it against the
   * one recorded: a different cluster throws, since its offsets mean other records.
   */
  claimSource(topic: string, clusterId: string): Promise<void>;
  /** Stores starting positions for partitions that have none yet (a rebuild's start). */
  initPositions(topic: string, offsets: Map<number, number>): Promise<void>;
  /** Every stored position of the topic, by partition. */
  positions(topic: string): Promise<Map<number, number>>;
  readonly version: number;
}

/** The positions belong to another Kafka cluster: never retriable, the projector stops. */
export class ClusterMismatch extends Error {
  readonly code = errorCatalogue.clusterMismatch.code;
  readonly retriable = errorCatalogue.clusterMismatch.retriable;
}

/**
 * $7 is the version's threshold: the status is stored with the counts it follows from. $8 is
 * the snapshot of the flush's look-up of event ids, NULL for a flush without checked tries.
 * With it, the row remembers this transaction as the last to count tries into it
 * (counted_by), and a row whose counted_by the look-up could not see is skipped: a flush of
 * another partition counted tries of the same domain after the look-up, so a try of the same
 * event may have been counted twice. The row count then tells the flush to start again.
 */
const UPSERT = `
  INSERT INTO domain_stats AS s
    (version, domain, delivered, bounced, first_event_at, last_event_at, updated_at, status,
     counted_by)
  SELECT $1, u.domain, u.delivered, u.bounced,
         to_timestamp(u.first_ms / 1000.0), to_timestamp(u.last_ms / 1000.0), now(),
         ${domainStatusSql('u.delivered', 'u.bounced', '$7::bigint')},
         CASE WHEN $8::pg_snapshot IS NOT NULL THEN pg_current_xact_id() END
  FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::float8[], $6::float8[])
       AS u(domain, delivered, bounced, first_ms, last_ms)
  ON CONFLICT (version, domain) DO UPDATE SET
    delivered = s.delivered + EXCLUDED.delivered,
    bounced = s.bounced + EXCLUDED.bounced,
    first_event_at = LEAST(s.first_event_at, EXCLUDED.first_event_at),
    last_event_at = GREATEST(s.last_event_at, EXCLUDED.last_event_at),
    updated_at = EXCLUDED.updated_at,
    status = ${domainStatusSql(
      's.delivered + EXCLUDED.delivered',
      's.bounced + EXCLUDED.bounced',
      '$7::bigint',
    )},
    counted_by = coalesce(EXCLUDED.counted_by, s.counted_by)
  WHERE $8::pg_snapshot IS NULL OR s.counted_by IS NULL
     OR pg_visible_in_snapshot(s.counted_by, $8::pg_snapshot)`;

// GREATEST ignores a NULL: a flush without a timestamp leaves the stored one.
const ADVANCE = `
  UPDATE projection_positions
  SET next_offset = $5, updated_at = now(), newest_record_at = GREATEST(newest_record_at, $6)
  WHERE version = $1 AND topic = $2 AND partition = $3 AND next_offset = $4`;

const CLAIM = `
  INSERT INTO projection_positions (version, topic, partition, next_offset, newest_record_at)
  VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`;

/**
 * Takes the rows of the flush's domains (creating the missing ones with no counts, times that
 * LEAST and GREATEST then replace) before the tries are looked up: the second attempt of a
 * flush whose upsert found another partition's tries of the same domain (a direct producer
 * without a key, a topic given more partitions). A concurrent flush then waits here until
 * the first has committed, and its look-up, a statement after, sees the tries the first
 * counted (READ COMMITTED takes a snapshot per statement). A placeholder never outlives the
 * flush: a domain whose tries are all duplicates has a row with counts already. In domain
 * order, as the upsert after it.
 */
const LOCK_DOMAINS = `
  INSERT INTO domain_stats AS s
    (version, domain, delivered, bounced, first_event_at, last_event_at, updated_at, status)
  SELECT $1, d, 0, 0, 'infinity', '-infinity', now(), 'unknown' FROM unnest($2::text[]) AS d
  ON CONFLICT (version, domain) DO UPDATE SET updated_at = s.updated_at`;

/**
 * A flush with checked tries writes event_ids before domain_stats, but a new read-model
 * version creates its partitions of domain_stats, then of event_ids (read-model-version.ts),
 * each locking its parent: taking domain_stats first keeps the order the same, or a flush of
 * the live version and a rebuild starting beside it deadlock (40P01). The parent alone.
 */
const TABLES_IN_ORDER = 'LOCK TABLE ONLY domain_stats IN ROW EXCLUSIVE MODE';

/**
 * How many domains a flush may change: those of its deltas, its tries and its redriven
 * events (a try or a copy found counted already changes nothing, but is among them).
 */
export function flushDomainCount(
  flush: Pick<PartitionFlush, 'deltas' | 'tries' | 'redriven'>,
): number {
  if (!flush.tries?.length && !flush.redriven?.length) return flush.deltas.size;
  return flushDomains(flush.deltas, [...(flush.tries ?? []), ...(flush.redriven ?? [])]).length;
}

/** Every domain a flush writes to, sorted: the order its rows are locked in. */
function flushDomains(
  deltas: Map<string, DomainDelta>,
  tries: readonly { domain: string }[],
): string[] {
  const domains = new Set(deltas.keys());
  for (const t of tries) domains.add(t.domain);
  return [...domains].sort();
}

/** A timestamp Postgres's bigint holds and a date can be: anything else is not stored. */
const recordTime = (at: number | undefined) =>
  at !== undefined && Number.isSafeInteger(at) && at > 0 && at < 8.64e15 ? at : null;

/** The deltas with the counted tries folded in (a copy: the flush may be tried again). */
function withTries(
  deltas: Map<string, DomainDelta>,
  tries: readonly { domain: string; event: CountedEvent }[],
): Map<string, DomainDelta> {
  if (tries.length === 0) return deltas;
  const all = new Map(deltas);
  // Each row copied once, then folded into in place: no object per try.
  const copied = new Set<string>();
  for (const { domain, event } of tries) {
    const delta = all.get(domain);
    if (delta === undefined || !copied.has(domain)) {
      all.set(domain, evolve(delta, event));
      copied.add(domain);
      continue;
    }
    foldInto(delta, event);
  }
  return all;
}

function columns(deltas: Map<string, DomainDelta>) {
  // Rows in domain order: concurrent flushes of partitions that share a domain (a direct
  // producer may put one domain on two partitions) then lock rows in the same order.
  const domains = [...deltas.keys()].sort();
  const delivered: number[] = [];
  const bounced: number[] = [];
  const first: number[] = [];
  const last: number[] = [];
  for (const domain of domains) {
    const d = deltas.get(domain)!;
    delivered.push(d.delivered);
    bounced.push(d.bounced);
    first.push(d.firstEventAt);
    last.push(d.lastEventAt);
  }
  return [
    textArray(domains),
    plainArray(delivered),
    plainArray(bounced),
    plainArray(first),
    plainArray(last),
  ];
}

/** The read model's write side for one read-model version and its threshold. */
export function createProjectionStore(options: {
  pool: pg.Pool;
  version: number;
  threshold: number;
  /** Off is safe here: a lost commit is re-applied from the older stored position. */
  synchronousCommit: boolean;
  /**
   * DEDUPE_WINDOW_S in milliseconds: how near two tries of an event must be to count once
   * (default DEFAULT_DEDUPE_WINDOW_MS).
   */
  dedupeWindowMs?: number;
  eventIds?: EventIdObserver;
  /** Told, after each committed flush with redriven events, what the ledger made of them. */
  redriven?: (outcome: RedrivenOutcome) => void;
}): ProjectionStore {
  const { pool, version, threshold } = options;
  const eventIds = createEventIdStore({
    pool,
    version,
    windowMs: options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS,
    ...(options.eventIds ? { observer: options.eventIds } : {}),
  });
  /** Until when (epoch ms) each partition's flushes take their rows first, by topic and partition. */
  const lockingUntil = new Map<string, number>();
  // Every failure reaches the projector classified (retriable or not, values refused or not).
  const query = <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) =>
    queryPool<R>(pool, text, values);

  return {
    version,

    async loadPosition(topic, partition) {
      const { rows } = await query<{ next_offset: string }>(
        'SELECT next_offset::text FROM projection_positions WHERE version = $1 AND topic = $2 AND partition = $3',
        [version, topic, partition],
      );
      const row = rows[0];
      return row === undefined ? null : Number(row.next_offset);
    },

    async flush({
      topic,
      partition,
      expected,
      next,
      deltas,
      tries = [],
      redriven = [],
      deadLettered = [],
      newestRecordAt,
    }) {
      const { checked, unchecked } = await eventIds.prepare(tries);
      // Redriven events with client ids are deduplicated too, once their origin counts.
      const redrivenTries = await eventIds.prepare(
        redriven.filter((r): r is RedrivenEvent & EventTry => r.eventId !== undefined),
      );
      const mayCheck = checked.length + redrivenTries.checked.length;
      const at = recordTime(newestRecordAt);
      /** One transaction; with what the redrive ledger made of the redriven events. */
      const tryOnce = (lockDomains: boolean) =>
        withTransaction(
          pool,
          async (client): Promise<{ outcome: FlushOutcome; ledger?: AdmittedRedriven }> => {
            if (!options.synchronousCommit) {
              await client.query('SET LOCAL synchronous_commit = off');
            }
            if (mayCheck > 0) await client.query(TABLES_IN_ORDER);
            const moved =
              expected === null
                ? await client.query(CLAIM, [version, topic, partition, next, at])
                : await client.query(ADVANCE, [version, topic, partition, expected, next, at]);
            // Nothing was written: committing the empty transaction changes nothing.
            if (moved.rowCount !== 1) return { outcome: 'conflict' };
            // Before any row of domain_stats is taken: the ledger's rows, then the domains', in
            // every flush. Marked first: a redriven copy in the same flush may count.
            await markDeadLettered(client, version, deadLettered);
            const ledger = await admitRedriven(client, { version, topic, partition }, redriven);
            const admitted = ledger.counted;
            const plain = admitted.filter((r) => r.eventId === undefined);
            const admittedSet = new Set<unknown>(admitted);
            const redrivenChecked = redrivenTries.checked.filter((t) => admittedSet.has(t));
            const redrivenUnchecked = redrivenTries.unchecked.filter((t) => admittedSet.has(t));
            if (lockDomains) {
              await client.query(LOCK_DOMAINS, [
                version,
                flushDomains(deltas, [...tries, ...admitted]),
              ]);
            }
            // decide turns sequential scans off for the rest of this transaction (see
            // INDEX_SCANS_ONLY in event-ids.ts): what follows reads tables through indexes only.
            const { counted, snapshot } = await eventIds.decide(
              client,
              redrivenChecked.length > 0 ? [...checked, ...redrivenChecked] : checked,
            );
            const all = withTries(deltas, [
              ...unchecked,
              ...redrivenUnchecked,
              ...counted,
              ...plain,
            ]);
            if (all.size === 0) return { outcome: 'committed', ledger };
            const upserted = await client.query(UPSERT, [
              version,
              ...columns(all),
              threshold,
              snapshot,
            ]);
            if (upserted.rowCount !== all.size) {
              throw new EventCountedConcurrently(
                'a flush of another partition counted tries of the same domain after this flush looked; the flush is tried again',
              );
            }
            return { outcome: 'committed', ledger };
          },
        );
      const attempt = async (lockDomains: boolean) => {
        const { outcome, ledger } = await tryOnce(lockDomains);
        if (outcome === 'committed' && ledger && redriven.length > 0 && options.redriven) {
          const { counted, alreadyCounted, notCopies } = ledger;
          options.redriven({ copies: counted.length - notCopies, alreadyCounted, notCopies });
        }
        return outcome;
      };
      if (mayCheck === 0) return attempt(false);
      // Kafka topic names hold no ':'.
      const lane = `${topic}:${partition}`;
      if ((lockingUntil.get(lane) ?? 0) > Date.now()) return attempt(true);
      try {
        return await attempt(false);
      } catch (err) {
        if (!(err instanceof EventCountedConcurrently)) throw err;
        // Another partition carries tries of this one's domains: for a while, this
        // partition's flushes take their rows first instead of being done twice.
        options.eventIds?.concurrent();
        lockingUntil.set(lane, Date.now() + LOCKING_MS);
        return attempt(true);
      }
    },

    expireEventIds: () => eventIds.expire(),

    async claimSource(topic, clusterId) {
      await query(
        'INSERT INTO projection_sources (version, topic, cluster_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [version, topic, clusterId],
      );
      const { rows } = await query<{ cluster_id: string }>(
        'SELECT cluster_id FROM projection_sources WHERE version = $1 AND topic = $2',
        [version, topic],
      );
      const recorded = rows[0]?.cluster_id;
      if (recorded !== clusterId) {
        throw new ClusterMismatch(
          `read model version ${version} holds positions of topic ${topic} in Kafka cluster ${recorded}, ` +
            `but the brokers are cluster ${clusterId}: the topic's offsets mean other records now. ` +
            'Rebuild the read model from this cluster (a new version) instead of reusing it.',
        );
      }
    },

    async initPositions(topic, offsets) {
      await query(
        `INSERT INTO projection_positions (version, topic, partition, next_offset)
         SELECT $1, $2, p.partition, p.next_offset
         FROM unnest($3::int[], $4::bigint[]) AS p(partition, next_offset)
         ON CONFLICT DO NOTHING`,
        [version, topic, [...offsets.keys()], [...offsets.values()]],
      );
    },

    async positions(topic) {
      const { rows } = await query<{ partition: number; next_offset: number }>(
        'SELECT partition, next_offset FROM projection_positions WHERE version = $1 AND topic = $2',
        [version, topic],
      );
      return new Map(rows.map((r) => [r.partition, Number(r.next_offset)]));
    },
  };
}
