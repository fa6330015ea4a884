import type pg from 'pg';
import { queryPool } from '@catchall/core';
import type { DeadLetteredRecord, RedrivenEvent } from './projection-store';
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
  INSERT INTO redriven_origins (version, origin, state, value_digest, counted_as)
  SELECT $1, u.origin, u.state, u.digest, CASE WHEN u.state = 'counted' THEN u.origin END
  FROM unnest($2::text[], $3::text[], $4::text[]) AS u(origin, state, digest) ORDER BY u.origin
  ON CONFLICT (version, origin) DO NOTHING`;

/** A row markDeadLettered writes: `counted` for a copy of an original the version counted. */
interface DeadRow {
  state: 'dead' | 'counted';
  digest: string | null;
}

/**
 * Where the ledger remembers a dead-lettered record (markDeadLettered): under the origin it
 * names as a copy's (`copyOf`) when the version knows that origin with the record's value:
 * a row of this flush (`rows`) or of the ledger (`looked`) with its digest, an origin the
 * version cannot judge (read before the ledger existed: the ledger alone decides, as for
 * its copies), or an original the version counted itself that another version's ledger
 * knows with that value (then remembered `counted`, as admitRedriven does). Otherwise the
 * header is no copy's and the record is remembered under its own coordinates, so that its
 * dead letter is its own: redriven, it counts once, and the origin it names is untouched.
 */
function placeDeadLettered(
  record: DeadLetteredRecord,
  rows: Map<string, DeadRow>,
  looked: Map<string, Looked>,
): { origin: string; state: DeadRow['state'] } {
  const own = { origin: record.coordinates, state: 'dead' as const };
  const origin = record.copyOf;
  if (origin === undefined) return own;
  const inFlush = rows.get(origin);
  if (inFlush) return matches(inFlush.digest, record.digest) ? { origin, state: 'dead' } : own;
  const known = looked.get(origin);
  if (known === undefined) return own;
  switch (known.state) {
    case 'dead':
    case 'counted':
      return matches(known.digest, record.digest) ? { origin, state: 'dead' } : own;
    case 'unknown':
    case 'pending':
      return { origin, state: 'dead' };
    case 'original-counted':
      return known.elsewhere?.some((d) => matches(d, record.digest))
        ? { origin, state: 'counted' }
        : own;
  }
}

/**
 * Inside a flush's transaction, after the flush moved its position: remembers the records the
 * flush dead-lettered (`records`, in offset order), each with its value digest, under the
 * origin placeDeadLettered gives, so that a redriven copy may count once; the first record
 * of an origin makes its row, and a row there already stays. The dead-letter tools read the
 * place back (rememberedOrigin).
 */
export async function markDeadLettered(
  client: pg.PoolClient,
  version: number,
  records: readonly DeadLetteredRecord[],
): Promise<void> {
  if (records.length === 0) return;
  const named = [...new Set(records.flatMap((r) => (r.copyOf === undefined ? [] : [r.copyOf])))];
  const looked =
    named.length === 0
      ? new Map<string, Looked>()
      : await look((text, values) => client.query<LookRow>(text, values), version, named);
  const rows = new Map<string, DeadRow>();
  for (const r of records) {
    const { origin, state } = placeDeadLettered(r, rows, looked);
    if (!rows.has(origin)) rows.set(origin, { state, digest: r.digest ?? null });
  }
  await client.query(MARK_DEAD, [
    version,
    [...rows.keys()],
    [...rows.values()].map((r) => r.state),
    [...rows.values()].map((r) => r.digest),
  ]);
}

/**
 * Turns `dead` origins ($2) `counted` ($3: the records that count them) where the copy's
 * digest ($4) is the origin's (or either is not known); returns those.
 */
const COUNT_DEAD = `
  UPDATE redriven_origins AS r SET state = 'counted', counted_as = u.counted_as, updated_at = now()
  FROM unnest($2::text[], $3::text[], $4::text[]) AS u(origin, counted_as, digest)
  WHERE r.version = $1 AND r.origin = u.origin AND r.state = 'dead'
    AND (r.value_digest IS NULL OR u.digest IS NULL OR r.value_digest = u.digest)
  RETURNING r.origin, u.digest`;

/**
 * What the version knows of each origin (one snapshot): its ledger state and digest, the
 * version's position on the origin's partition with the offset before which no `dead` rows
 * were kept (`dead_marked_from`, set for the positions that existed when the ledger was
 * created), and the digests other versions' ledgers hold for it, dropped versions' included
 * ('' for a row without one; null when none does).
 */
const LOOK = `
  SELECT u.origin, r.state, r.value_digest, r.counted_as, u.off, p.next_offset, p.dead_marked_from,
    (SELECT array_agg(e.digest) FROM (
       SELECT coalesce(x.value_digest, '') AS digest FROM redriven_origins x
       WHERE x.origin = u.origin AND x.version <> $1
       UNION ALL
       SELECT d.value_digest FROM redrive_ledger_dropped d WHERE d.origin = u.origin
     ) AS e) AS elsewhere
  FROM unnest($2::text[], $3::text[], $4::int[], $5::bigint[]) AS u(origin, topic, part, off)
  LEFT JOIN redriven_origins r ON r.version = $1 AND r.origin = u.origin
  LEFT JOIN projection_positions p
    ON p.version = $1 AND p.topic = u.topic AND p.partition = u.part`;

/** Counts origins by the ledger alone ($4: the copy's digest), or remembers an original counted. */
const COUNT_ROWS = `
  INSERT INTO redriven_origins (version, origin, state, counted_as, value_digest)
  SELECT $1, u.origin, 'counted', u.counted_as, u.digest
  FROM unnest($2::text[], $3::text[], $4::text[]) AS u(origin, counted_as, digest)
  ORDER BY u.origin
  ON CONFLICT (version, origin) DO NOTHING
  RETURNING origin, value_digest AS digest`;

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
  value_digest: string | null;
  counted_as: string | null;
  off: string;
  next_offset: string | null;
  dead_marked_from: string | null;
  elsewhere: string[] | null;
}

/** An origin as the ledger knows it (see LOOK). */
interface Looked {
  state: OriginState;
  /** The digest of this version's row; null when none or not known. */
  digest: string | null;
  /** This version's row's `counted_as`: the record that counted it; null when none. */
  countedAs: string | null;
  /** The digests other versions' rows hold (null: not known); null when no version has one. */
  elsewhere: (string | null)[] | null;
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
): Promise<Map<string, Looked>> {
  const parsed = origins.map((o) => ({ o, c: parseCoordinates(o) }));
  const known = parsed.filter((p) => p.c !== undefined);
  const looked = new Map<string, Looked>();
  for (const p of parsed) {
    if (p.c === undefined) {
      looked.set(p.o, { state: 'unknown', digest: null, countedAs: null, elsewhere: null });
    }
  }
  if (known.length === 0) return looked;
  const { rows } = await run(LOOK, [
    version,
    known.map((p) => p.o),
    known.map((p) => p.c!.topic),
    known.map((p) => p.c!.partition),
    known.map((p) => p.c!.offset),
  ]);
  for (const row of rows) {
    looked.set(row.origin, {
      state: stateOf(row),
      digest: row.value_digest,
      countedAs: row.counted_as,
      elsewhere: row.elsewhere && row.elsewhere.map((d) => (d === '' ? null : d)),
    });
  }
  return looked;
}

/** A copy's digest matches a ledger's when they are equal or either is not known. */
function matches(known: string | null, copy: string | undefined): boolean {
  return known === null || copy === undefined || known === copy;
}

/** What the ledger made of a flush's redriven events (see admitRedriven). */
export interface AdmittedRedriven {
  /** The events that count: copies admitted, and records that are no copies. */
  counted: RedrivenEvent[];
  /** Copies not counted: their origin was counted already (by a copy, or by itself). */
  alreadyCounted: number;
  /**
   * Records that are no copies, counted as any record, the ledger untouched: their
   * `redrive-origin` names no record before them in their partition, or names one whose
   * value was not theirs (a producer wrote the header).
   */
  notCopies: number;
}

/**
 * Inside a flush's transaction: which redriven events count. A record is a copy of its origin
 * only when the origin is before it in its own partition (copyOrigin) and its value is the
 * origin's (the digest the ledger keeps, where it keeps one); otherwise it counts as any
 * record, the ledger untouched, so that a header another producer wrote can neither stall
 * the partition nor take the place of the record it names. Of the copies of an origin, the
 * first (in offset order) counts when the origin is `dead` here, or when the version cannot
 * judge it (`unknown`, `pending`: counted once, by the ledger alone); the origin is turned
 * `counted` in the same transaction. A copy of an origin counted already does not count,
 * nor one of an origin the version read and counted itself (`original-counted`, a rebuild
 * after the cause was fixed) that another version's ledger knows with its digest: the
 * version then remembers it too, for the versions rebuilt from it. Never waits. `topic`,
 * `partition`: where the flush's records are, for `counted_as`.
 */
export async function admitRedriven(
  client: pg.PoolClient,
  where: { version: number; topic: string; partition: number },
  redriven: readonly RedrivenEvent[],
): Promise<AdmittedRedriven> {
  const counted: RedrivenEvent[] = [];
  const notCopy = (r: RedrivenEvent) => counted.push(r);
  // The first of each origin and value: another value naming the same origin is judged apart.
  const keyOf = (origin: string, digest: string | null | undefined) => `${origin}#${digest ?? ''}`;
  const first = new Map<string, RedrivenEvent>();
  let copies = 0;
  for (const r of redriven) {
    if (copyOrigin({ ...where, offset: r.offset }, r.origin) === undefined) notCopy(r);
    else {
      copies += 1;
      const key = keyOf(r.origin, r.digest);
      if (!first.has(key)) first.set(key, r);
    }
  }
  let notCopies = counted.length;
  if (first.size === 0) return { counted, alreadyCounted: 0, notCopies };
  const countedAs = (r: RedrivenEvent) => `${where.topic}:${where.partition}:${r.offset}`;
  const admitted = new Set<string>();
  const countDead = async (events: RedrivenEvent[]) => {
    const updated = await client.query<{ origin: string; digest: string | null }>(COUNT_DEAD, [
      where.version,
      events.map((r) => r.origin),
      events.map(countedAs),
      events.map((r) => r.digest ?? null),
    ]);
    for (const { origin, digest } of updated.rows) admitted.add(keyOf(origin, digest));
  };
  const insertCounted = async (events: RedrivenEvent[], as: (r: RedrivenEvent) => string) => {
    if (events.length === 0) return [];
    const { rows } = await client.query<{ origin: string; digest: string | null }>(COUNT_ROWS, [
      where.version,
      events.map((r) => r.origin),
      events.map(as),
      events.map((r) => r.digest ?? null),
    ]);
    return rows.map((row) => keyOf(row.origin, row.digest));
  };
  const events = [...first.values()].sort((a, b) => (a.origin < b.origin ? -1 : 1));
  await countDead(events);
  const rest = events.filter((r) => !admitted.has(keyOf(r.origin, r.digest)));
  if (rest.length > 0) {
    const looked = await look(
      (text, values) => client.query<LookRow>(text, values),
      where.version,
      [...new Set(rest.map((r) => r.origin))],
    );
    const racing: RedrivenEvent[] = [];
    const unjudged: RedrivenEvent[] = [];
    const originals: RedrivenEvent[] = [];
    for (const r of rest) {
      const known = looked.get(r.origin)!;
      if (known.state === 'dead' || known.state === 'counted') {
        if (!matches(known.digest, r.digest)) notCopy(r);
        // `dead`: marked by a flush that committed after the update above looked; this
        // statement sees it, and waits for any flush counting it meanwhile.
        else if (known.state === 'dead') racing.push(r);
      } else if (known.state === 'original-counted') {
        const elsewhere = known.elsewhere;
        if (elsewhere !== null && elsewhere.some((d) => matches(d, r.digest))) originals.push(r);
        // No version dead-lettered a record of this value there: the header is no copy's.
        else notCopy(r);
      } else unjudged.push(r);
    }
    if (racing.length > 0) await countDead(racing);
    for (const key of await insertCounted(unjudged, countedAs)) admitted.add(key);
    // Remembered as counted by the original itself, for the versions rebuilt from this one.
    await insertCounted(originals, (r) => r.origin);
  }
  notCopies = counted.length;
  for (const r of first.values()) if (admitted.has(keyOf(r.origin, r.digest))) counted.push(r);
  return { counted, alreadyCounted: copies - (counted.length - notCopies), notCopies };
}

/** What a version says of an origin, read by the dead-letter tools (originStates). */
export interface OriginLedgerState {
  state: OriginState;
  /** The ledger row's `counted_as`: the record that counted it. */
  countedAs?: string;
  /** Whether the version's ledger holds a row of it (rememberedOrigin reads this). */
  row: boolean;
}

/**
 * What read-model version `version` says of each origin (`<topic>:<partition>:<offset>`),
 * read outside any flush: what the dead-letter tools skip before they redrive, the ledger
 * row's `counted_as` for the counted ones, and whether a row is there.
 */
export async function originStates(
  pool: pg.Pool,
  version: number,
  origins: readonly string[],
): Promise<Map<string, OriginLedgerState>> {
  const states = await look((text, values) => queryPool<LookRow>(pool, text, values), version, [
    ...new Set(origins),
  ]);
  const out = new Map<string, OriginLedgerState>();
  for (const [origin, { state, countedAs }] of states) {
    const row = state === 'dead' || state === 'counted';
    // A row written for an original the version counted itself (admitRedriven, markDeadLettered).
    if (countedAs === origin) out.set(origin, { state: 'original-counted', row });
    else out.set(origin, countedAs ? { state, countedAs, row } : { state, row });
  }
  return out;
}
