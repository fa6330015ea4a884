import type pg from 'pg';
import { queryPool } from '@catchall/core';
import type { RedrivenEvent } from './projection-store';
import { copyOrigin, parseCoordinates } from './redrive';

/**
 * The redrive ledger (table redriven_origins, README "Dead-letter tools"): per read-model
 * version, the origins (`<topic>:<partition>:<offset>` of the record first dead-lettered) this
 * version dead-lettered (`dead`) and those it then counted from a redriven copy (`counted`),
 * written in the flushes' own transactions, with the counts and positions. A redriven record
 * counts when its origin is `dead` here, and turns it `counted`; so it counts once however
 * many copies reach the topic, and never when this version counted the original record itself
 * (a rebuild after the cause was fixed): then the version's position is past the origin and
 * no `dead` row names it. `npm run dlq -- redrive` writes each copy to its origin's partition,
 * after the origin, so the version has judged the origin when it reads the copy; a record
 * whose header names anything else is not a copy (admitRedriven).
 */

const MARK_DEAD = `
  INSERT INTO redriven_origins (version, origin, state)
  SELECT $1, o, 'dead' FROM unnest($2::text[]) AS o ORDER BY o
  ON CONFLICT (version, origin) DO NOTHING`;

/**
 * Inside a flush's transaction: remembers the origins of the records the flush dead-lettered
 * (each record's `redrive-origin`, or its own coordinates), so that a redriven copy may count.
 */
export async function markDeadLettered(
  client: pg.PoolClient,
  version: number,
  origins: readonly string[],
): Promise<void> {
  if (origins.length === 0) return;
  await client.query(MARK_DEAD, [version, [...new Set(origins)]]);
}

/** Turns `dead` origins ($2) `counted` ($3: the records that count them); returns those. */
const COUNT_DEAD = `
  UPDATE redriven_origins AS r SET state = 'counted', counted_as = u.counted_as, updated_at = now()
  FROM unnest($2::text[], $3::text[]) AS u(origin, counted_as)
  WHERE r.version = $1 AND r.origin = u.origin AND r.state = 'dead'
  RETURNING r.origin`;

/**
 * What the version knows of each origin (one snapshot): its ledger state, and the version's
 * position on the origin's partition with the offset before which no `dead` rows were kept
 * (`dead_marked_from`, set for the positions that existed when the ledger was created).
 */
const LOOK = `
  SELECT u.origin, r.state, u.off, p.next_offset, p.dead_marked_from
  FROM unnest($2::text[], $3::text[], $4::int[], $5::bigint[]) AS u(origin, topic, part, off)
  LEFT JOIN redriven_origins r ON r.version = $1 AND r.origin = u.origin
  LEFT JOIN projection_positions p
    ON p.version = $1 AND p.topic = u.topic AND p.partition = u.part`;

const COUNT_UNKNOWN = `
  INSERT INTO redriven_origins (version, origin, state, counted_as)
  SELECT $1, u.origin, 'counted', u.counted_as
  FROM unnest($2::text[], $3::text[]) AS u(origin, counted_as) ORDER BY u.origin
  ON CONFLICT (version, origin) DO NOTHING
  RETURNING origin`;

/** What a version's ledger and positions say of an origin. */
export type OriginState =
  /** Dead-lettered by the version and not counted since: a redriven copy counts. */
  | 'dead'
  /** Counted from a redriven copy already. */
  | 'counted'
  /** Read by the version and not dead-lettered: the original itself was counted (or ignored). */
  | 'original-counted'
  /**
   * Not read by the version yet: what the dead-letter tools may find of a live version
   * behind the dead letters. A copy's origin is read before the copy (copyOrigin), so a flush
   * never finds it; if one did, the copy would count once, by the ledger alone.
   */
  | 'pending'
  /**
   * The version cannot tell (an offset read before the ledger existed, or a partition it has
   * no position of): a redriven copy counts once, by the ledger alone.
   */
  | 'unknown';

interface LookRow {
  origin: string;
  state: 'dead' | 'counted' | null;
  off: string;
  next_offset: string | null;
  dead_marked_from: string | null;
}

function stateOf(row: LookRow): OriginState {
  if (row.state !== null) return row.state;
  if (row.next_offset === null) return 'unknown';
  const offset = Number(row.off);
  if (row.dead_marked_from !== null && offset < Number(row.dead_marked_from)) return 'unknown';
  return Number(row.next_offset) > offset ? 'original-counted' : 'pending';
}

async function look(
  run: (text: string, values: unknown[]) => Promise<{ rows: LookRow[] }>,
  version: number,
  origins: readonly string[],
): Promise<Map<string, OriginState>> {
  const parsed = origins.map((o) => ({ o, c: parseCoordinates(o) }));
  const known = parsed.filter((p) => p.c !== undefined);
  const states = new Map<string, OriginState>();
  for (const p of parsed) if (p.c === undefined) states.set(p.o, 'unknown');
  if (known.length === 0) return states;
  const { rows } = await run(LOOK, [
    version,
    known.map((p) => p.o),
    known.map((p) => p.c!.topic),
    known.map((p) => p.c!.partition),
    known.map((p) => p.c!.offset),
  ]);
  for (const row of rows) states.set(row.origin, stateOf(row));
  return states;
}

/** What the ledger made of a flush's redriven events (see admitRedriven). */
export interface AdmittedRedriven {
  /** The events that count: copies admitted, and records whose header names no earlier record. */
  counted: RedrivenEvent[];
  /** Copies not counted: their origin was counted already (by a copy, or by itself). */
  alreadyCounted: number;
  /**
   * Records whose `redrive-origin` names no record before them in their partition (another
   * partition of the topic, or their own offset or a later one): not a copy redrive wrote,
   * counted as any record, the ledger untouched.
   */
  notCopies: number;
}

/**
 * Inside a flush's transaction: which redriven events count. A record whose origin is not
 * before it in its own partition is not a copy (copyOrigin) and counts as any record, the
 * ledger untouched: so a header another producer wrote can neither stall the partition nor
 * keep the record it names from counting or being redriven. Of the copies, the first of
 * each origin (in offset order) counts when the origin is `dead` here, or when the version
 * cannot judge it (`unknown`, `pending`: counted once, by the ledger alone); the origin is
 * turned `counted` in the same transaction. A copy of an origin the version read and did
 * not dead-letter (`original-counted`), or counted already, does not count. Never waits.
 * `topic`, `partition`: where the flush's records are, for `counted_as`.
 */
export async function admitRedriven(
  client: pg.PoolClient,
  where: { version: number; topic: string; partition: number },
  redriven: readonly RedrivenEvent[],
): Promise<AdmittedRedriven> {
  const counted: RedrivenEvent[] = [];
  const first = new Map<string, RedrivenEvent>();
  let copies = 0;
  for (const r of redriven) {
    if (copyOrigin({ ...where, offset: r.offset }, r.origin) === undefined) counted.push(r);
    else {
      copies += 1;
      if (!first.has(r.origin)) first.set(r.origin, r);
    }
  }
  const notCopies = counted.length;
  if (first.size === 0) return { counted, alreadyCounted: 0, notCopies };
  const countedAs = (r: RedrivenEvent) => `${where.topic}:${where.partition}:${r.offset}`;
  const admitted = new Set<string>();
  const countDead = async (events: RedrivenEvent[]) => {
    const updated = await client.query<{ origin: string }>(COUNT_DEAD, [
      where.version,
      events.map((r) => r.origin),
      events.map(countedAs),
    ]);
    for (const { origin } of updated.rows) admitted.add(origin);
  };
  const events = [...first.values()].sort((a, b) => (a.origin < b.origin ? -1 : 1));
  await countDead(events);
  const rest = events.filter((r) => !admitted.has(r.origin));
  if (rest.length > 0) {
    const states = await look(
      (text, values) => client.query<LookRow>(text, values),
      where.version,
      rest.map((r) => r.origin),
    );
    // `dead`: marked by a flush that committed after the update above looked; this
    // statement sees it, and waits for any flush counting it meanwhile.
    const racing = rest.filter((r) => states.get(r.origin) === 'dead');
    if (racing.length > 0) await countDead(racing);
    const unjudged = rest.filter((r) => {
      const state = states.get(r.origin);
      return state === 'unknown' || state === 'pending';
    });
    if (unjudged.length > 0) {
      const inserted = await client.query<{ origin: string }>(COUNT_UNKNOWN, [
        where.version,
        unjudged.map((r) => r.origin),
        unjudged.map(countedAs),
      ]);
      for (const { origin } of inserted.rows) admitted.add(origin);
    }
  }
  for (const r of first.values()) if (admitted.has(r.origin)) counted.push(r);
  return { counted, alreadyCounted: copies - (counted.length - notCopies), notCopies };
}

/**
 * What read-model version `version` says of each origin (`<topic>:<partition>:<offset>`),
 * read outside any flush: what the dead-letter tools skip before they redrive; the ledger
 * row's `counted_as` for the counted ones.
 */
export async function originStates(
  pool: pg.Pool,
  version: number,
  origins: readonly string[],
): Promise<Map<string, { state: OriginState; countedAs?: string }>> {
  const unique = [...new Set(origins)];
  const states = await look(
    (text, values) => queryPool<LookRow>(pool, text, values),
    version,
    unique,
  );
  const { rows } = await queryPool<{ origin: string; counted_as: string | null }>(
    pool,
    `SELECT origin, counted_as FROM redriven_origins WHERE version = $1 AND origin = ANY($2::text[])`,
    [version, unique],
  );
  const countedAs = new Map(rows.map((r) => [r.origin, r.counted_as]));
  const out = new Map<string, { state: OriginState; countedAs?: string }>();
  for (const [origin, state] of states) {
    const as = countedAs.get(origin);
    out.set(origin, as ? { state, countedAs: as } : { state });
  }
  return out;
}
