import { PostgresFailure, foldEvents, type EventTry } from '@catchall/core';
import type { IsolatedRecord } from './partition-state';
import type { DeadLetteredRecord, PartitionFlush, RedrivenEvent } from './projection-store';

/** What committing a refused flush's records in halves needs of the partition's work. */
export interface IsolationSteps {
  /** Writes one flush of the partition (throws what the store throws). */
  write(flush: Omit<PartitionFlush, 'topic' | 'partition'>): Promise<void>;
  /** Dead-letters a record Postgres refused alone, with the refusal's message. */
  deadLetter(record: IsolatedRecord, detail: string): Promise<void>;
  /** What the redrive ledger remembers a dead-lettered record by (deadLetterOrigin, its digest). */
  deadLetteredOf(record: IsolatedRecord): DeadLetteredRecord;
  /** Called after each commit: many small transactions must not cost the group membership. */
  heartbeat(): Promise<void>;
}

/**
 * Commits the records of a flush Postgres refused for its values (PostgresFailure
 * 'refused': SQLSTATE class 22 or 23) from `position` up to `until`: in halves, down to
 * single records; a record refused alone is dead-lettered and the position moves past it,
 * so that the others are counted. Any other failure is thrown as it is (a lost
 * compare-and-set included); what was committed before it stays committed.
 * Returns the position reached.
 */
export async function commitInHalves(
  records: IsolatedRecord[],
  until: number,
  position: number | null,
  steps: IsolationSteps,
): Promise<number | null> {
  let at = position;
  const commit = async (lo: number, hi: number): Promise<void> => {
    const next = hi < records.length ? records[hi]!.offset : until;
    const { deltas, tries, redriven } = flushContent(records.slice(lo, hi));
    try {
      await steps.write({ expected: at, next, deltas, tries, redriven });
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
      await steps.deadLetter(records[lo]!, err.message);
      await steps.write({
        expected: at,
        next,
        deltas: new Map(),
        deadLettered: [steps.deadLetteredOf(records[lo]!)],
      });
    }
    at = next;
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
