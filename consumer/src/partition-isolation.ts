import { PostgresFailure, foldEvents, type EventTry } from '@catchall/core';
import type { IsolatedRange, IsolatedRecord } from './partition-state';
import type { DeadLetteredRecord, PartitionFlush, RedrivenEvent } from './projection-store';

/** What committing a refused flush's records in halves needs of the partition's work. */
export interface IsolationSteps {
  /** Writes one flush of the partition (throws what the store throws). */
  write(flush: Omit<PartitionFlush, 'topic' | 'partition'>): Promise<void>;
  /** Dead-letters a record Postgres refused alone, with the refusal's message. */
  deadLetter(record: IsolatedRecord, detail: string): Promise<void>;
  /** A record refused alone, as the redrive ledger takes it (deadLetteredRecord). */
  deadLetteredOf(record: IsolatedRecord): DeadLetteredRecord;
  /** Called after each commit: many small transactions must not cost the group membership. */
  heartbeat(): Promise<void>;
}

/**
 * Commits the records of a flush Postgres refused for its values (PostgresFailure
 * 'refused': SQLSTATE class 22 or 23), read again whole (`range`), from `position` up to
 * `range.until`: in halves, down to single records; a record refused alone is dead-lettered
 * and the position moves past it, so that the others are counted. Each flush carries the
 * range's dead-lettered records it passes (`range.dead`, and a record refused alone), so
 * that the redrive ledger learns of each with the position that passes it. Any other
 * failure is thrown as it is (a lost compare-and-set included); what was committed before
 * it stays committed. Returns the position reached.
 */
export async function commitInHalves(
  range: IsolatedRange,
  position: number | null,
  steps: IsolationSteps,
): Promise<number | null> {
  const { records, until, dead } = range;
  let at = position;
  /** range.dead[0, passed) went with flushes committed. */
  let passed = 0;
  const commit = async (lo: number, hi: number): Promise<void> => {
    const next = hi < records.length ? records[hi]!.offset : until;
    const { deltas, tries, redriven } = flushContent(records.slice(lo, hi));
    let below = passed;
    while (below < dead.length && dead[below]!.offset < next) below += 1;
    const deadLettered = dead.slice(passed, below);
    try {
      await steps.write({
        expected: at,
        next,
        deltas,
        tries,
        redriven,
        deadLettered: deadLettered.map((d) => d.record),
      });
    } catch (err) {
      const empty = deltas.size === 0 && tries.length === 0 && redriven.length === 0;
      if (!(err instanceof PostgresFailure && err.kind === 'refused') || empty) {
        throw err;
      }
      if (hi - lo > 1) {
        const mid = (lo + hi) >>> 1;
        await commit(lo, mid);
        await commit(mid, hi);
        return;
      }
      const refused = records[lo]!;
      await steps.deadLetter(refused, err.message);
      const all = [
        ...deadLettered,
        { offset: refused.offset, record: steps.deadLetteredOf(refused) },
      ];
      await steps.write({
        expected: at,
        next,
        deltas: new Map(),
        deadLettered: all.sort((a, b) => a.offset - b.offset).map((d) => d.record),
      });
    }
    at = next;
    passed = below;
    await steps.heartbeat();
  };
  await commit(0, records.length);
  return at;
}

/**
 * What records add to a flush: deltas of the events with ingest-made ids, tries of those with
 * client-chosen ids, and the redriven dead letters (counted once per origin) apart.
 */
function flushContent(records: IsolatedRecord[]) {
  const tries: EventTry[] = [];
  const redriven: RedrivenEvent[] = [];
  const folded: IsolatedRecord[] = [];
  for (const r of records) {
    if (r.origin !== undefined) {
      const { origin, offset, domain, event, at, eventId, digest } = r;
      const copy: RedrivenEvent = { origin, offset, domain, event, at };
      if (eventId !== undefined) copy.eventId = eventId;
      if (digest !== undefined) copy.digest = digest;
      redriven.push(copy);
    } else if (r.eventId === undefined) folded.push(r);
    else tries.push({ domain: r.domain, eventId: r.eventId, at: r.at, event: r.event });
  }
  return { deltas: foldEvents(folded), tries, redriven };
}
