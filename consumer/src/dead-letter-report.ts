import type { DeadLetterView } from './dead-letter-view';
import type { OriginLedgerState } from './redrive-ledger';
import { attemptsKey, coordinatesText, rememberedOrigin } from './redrive';

/** What `summary` prints: counts of the dead letters selected. */
export interface Summary {
  total: number;
  /** The dead letter with the oldest and the newest timestamp (`<partition>:<offset>` and when). */
  oldest: { deadLetter: string; at: string } | null;
  newest: { deadLetter: string; at: string } | null;
  byReason: Record<string, number>;
  /** By the hour (UTC) of the dead letter's timestamp: `2026-11-30T10:00:00.000Z`. */
  byHour: Record<string, number>;
  /** By partition of the dead-letter topic. */
  byPartition: Record<string, number>;
  /** By `<topic>:<partition>` the refused records came from (`(unknown)` without headers). */
  byOriginalPartition: Record<string, number>;
  /** How many were redriven before and came back (redrive-count > 0). */
  redrivenBefore: number;
}

const HOUR_MS = 3_600_000;

function add(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Sorted by key, so that output is stable. */
function sorted(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** A summary built as dead letters are read: each is counted, none is kept. */
export interface SummaryCounter {
  /** Counts one dead letter. */
  add(view: DeadLetterView): void;
  /** The counts so far, keys sorted so that output is stable. */
  result(): Summary;
}

/**
 * Counts dead letters by reason, hour, partition and origin partition, with the oldest and
 * newest, as they come: memory grows with the distinct reasons, hours and partitions, not
 * with the dead letters (a storm of them is what the summary is for).
 */
export function createSummaryCounter(): SummaryCounter {
  const summary: Summary = {
    total: 0,
    oldest: null,
    newest: null,
    byReason: {},
    byHour: {},
    byPartition: {},
    byOriginalPartition: {},
    redrivenBefore: 0,
  };
  let oldest = Infinity;
  let newest = -Infinity;
  return {
    add(v) {
      summary.total += 1;
      add(summary.byReason, v.reason);
      add(summary.byHour, new Date(Math.floor(v.timestamp / HOUR_MS) * HOUR_MS).toISOString());
      add(summary.byPartition, String(v.partition));
      add(
        summary.byOriginalPartition,
        v.original ? `${v.original.topic}:${v.original.partition}` : '(unknown)',
      );
      if (v.redriveCount > 0) summary.redrivenBefore += 1;
      const here = () => ({
        deadLetter: `${v.partition}:${v.offset}`,
        at: new Date(v.timestamp).toISOString(),
      });
      if (v.timestamp < oldest) [oldest, summary.oldest] = [v.timestamp, here()];
      if (v.timestamp > newest) [newest, summary.newest] = [v.timestamp, here()];
    },
    result: () => ({
      ...summary,
      byReason: sorted(summary.byReason),
      byHour: sorted(summary.byHour),
      byPartition: sorted(summary.byPartition),
      byOriginalPartition: sorted(summary.byOriginalPartition),
    }),
  };
}

/** Counts dead letters by reason, hour, partition and origin partition; oldest and newest. */
export function summarize(views: Iterable<DeadLetterView>): Summary {
  const counter = createSummaryCounter();
  for (const v of views) counter.add(v);
  return counter.result();
}

/**
 * What redrive does with one selected dead letter; `origin`: the origin the ledger remembered
 * it under (rememberedOrigin), undefined when its headers name none.
 */
export type RedriveDecision =
  /** `redriveCount`: the redrives of the origin so far (the copy carries one more). */
  | { action: 'send'; view: DeadLetterView; origin: string; redriveCount: number }
  /** Not sent, and the run ends non-zero: the operator must look at it. */
  | { action: 'refused'; view: DeadLetterView; origin: string | undefined; why: string }
  /** Not sent, nothing wrong: counted already, or another dead letter of the origin is sent. */
  | { action: 'skipped'; view: DeadLetterView; origin: string; why: string };

/**
 * Decides, for the dead letters selected (in topic order), which are redriven. Each is taken
 * for the origin the live version's ledger remembered it under (`states[...].row`, see
 * rememberedOrigin): the origin its `redrive-origin` names, or its own place when the ledger
 * found that header no copy's (a producer's record naming an origin of another value). Then:
 * - a dead letter that kept no key or value, or names no origin, is refused;
 * - one whose origin the live read-model version counted (`states`: from a redriven copy, or
 *   the original record itself, see OriginState) is skipped;
 * - one whose origin was redriven `maxRedrives` times already is refused, so that nothing
 *   loops: `attempts` holds, per origin and value (attemptsKey), the highest `redrive-count`
 *   of its copies' dead letters in the whole topic (the first dead letter of a record says 0
 *   however often it was redriven; a record that is no copy carries a producer's header);
 * - of several dead letters of one origin (a record dead-lettered twice), the first is sent.
 * Sending twice would still count once (the projector's redrive ledger); skipping says so
 * before anything is written.
 */
export function planRedrive(
  views: readonly DeadLetterView[],
  options: {
    maxRedrives: number;
    states: Map<string, OriginLedgerState>;
    attempts?: Map<string, number>;
    /**
     * The events topic: a dead letter of a record of another topic is refused, as its copy
     * (written to the events topic) would be no copy of it and count on every redrive.
     */
    eventsTopic?: string;
  },
): RedriveDecision[] {
  const sending = new Map<string, string>();
  return views.map((view): RedriveDecision => {
    const here = `${view.partition}:${view.offset}`;
    const origin =
      view.original &&
      rememberedOrigin(
        { coordinates: coordinatesText(view.original), copyOf: view.copyOf },
        (o) => options.states.get(o)?.row === true,
      );
    if (!view.bodyKept) {
      const where = view.original ? coordinatesText(view.original) : 'the offset its headers name';
      return {
        action: 'refused',
        view,
        origin,
        why: `dead letter ${here} kept no key or value (the record was ${view.originalBytes} bytes); the original is in the events topic at ${where}`,
      };
    }
    if (origin === undefined) {
      return {
        action: 'refused',
        view,
        origin,
        why: `dead letter ${here} names no origin (no dlq-original-* headers): it was not written by the projector`,
      };
    }
    if (options.eventsTopic !== undefined && view.original?.topic !== options.eventsTopic) {
      return {
        action: 'refused',
        view,
        origin,
        why: `dead letter ${here} holds a record of topic ${view.original?.topic ?? '(none)'}, not of the events topic ${options.eventsTopic}: its copy would count on every redrive`,
      };
    }
    const known = options.states.get(origin);
    if (known?.state === 'counted') {
      return {
        action: 'skipped',
        view,
        origin,
        why: `origin ${origin} was counted already, as ${known.countedAs ?? 'a redriven record'}`,
      };
    }
    if (known?.state === 'original-counted') {
      return {
        action: 'skipped',
        view,
        origin,
        why: `the live read model version counted the original record ${origin} itself (it was rebuilt after the cause was fixed)`,
      };
    }
    const own = origin === view.copyOf ? view.redriveCount : 0;
    const attempts = Math.max(own, options.attempts?.get(attemptsKey(origin, view.digest)) ?? 0);
    if (attempts >= options.maxRedrives) {
      return {
        action: 'refused',
        view,
        origin,
        why: `origin ${origin} (dead letter ${here}) was redriven ${attempts} times already (--max-redrives ${options.maxRedrives}) and failed each time: fix its cause, or raise the limit`,
      };
    }
    const first = sending.get(origin);
    if (first !== undefined) {
      return {
        action: 'skipped',
        view,
        origin,
        why: `origin ${origin} is redriven from dead letter ${first} in this run`,
      };
    }
    sending.set(origin, here);
    return { action: 'send', view, origin, redriveCount: attempts };
  });
}
