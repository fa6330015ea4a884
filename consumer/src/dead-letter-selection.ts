import { parseTime } from './time-option';
import type { DeadLetterView } from './dead-letter-view';
import { DEAD_LETTER_REASONS } from './record-decoder';
import { NotInTopic, UsageError } from './usage-error';

/** Which dead letters a command works on: every condition given must hold. */
export interface Selection {
  /** `--reason` (repeatable): any of these reasons. */
  reasons: string[];
  /** `--partition`: only this partition of the dead-letter topic. */
  partition?: number;
  /** `--from-offset`, `--to-offset`: offsets in the dead-letter topic, both inclusive. */
  fromOffset?: number;
  toOffset?: number;
  /** `--since`, `--until`: the dead letter's timestamp, epoch ms, `since` inclusive, `until` not. */
  since?: number;
  until?: number;
  /** Explicit `<partition>:<offset>` coordinates in the dead-letter topic: any of these. */
  coordinates: { partition: number; offset: number }[];
  /** `--limit`: at most this many, the first in topic order. */
  limit?: number;
}

/** The options a selection is read from (node:util parseArgs values, all text). */
export interface SelectionArgs {
  reason?: string[];
  partition?: string;
  'from-offset'?: string;
  'to-offset'?: string;
  since?: string;
  until?: string;
  limit?: string;
}

/** A whole number as the tools take it: plain decimal digits, as `redriveCount` reads a header. */
const DECIMAL_DIGITS = /^\d+$/;

/**
 * A whole number from `min` to `max` from option `name`, written in plain decimal digits
 * (`16`, `007`), or a UsageError saying what was wrong. Not `Number()` alone, which takes
 * `0x10` for 16, `1e3` for 1000, ` 5` and `5.0` for 5: a command line that means something
 * else than it reads is refused, as a `redrive-count` header is read (redriveCount).
 */
export function wholeNumber(
  name: string,
  text: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const value = DECIMAL_DIGITS.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(
      `${name} must be a whole number ${range} in decimal digits (0-9 only), got "${text}"`,
    );
  }
  return value;
}

/** `<partition>:<offset>` of a dead letter, or a UsageError. */
export function parseDeadLetterCoordinates(text: string): { partition: number; offset: number } {
  const match = /^(\d+):(\d+)$/.exec(text);
  if (!match) {
    throw new UsageError(
      `dead letters are named <partition>:<offset> (as list prints them), got "${text}"`,
    );
  }
  return {
    partition: wholeNumber('partition', match[1]!),
    offset: wholeNumber('offset', match[2]!),
  };
}

/**
 * The selection the options and positional coordinates name. Throws UsageError for a value
 * that is not a number or a time, an empty offset or time range, or a `--reason` that is not
 * one of DEAD_LETTER_REASONS (record-decoder.ts: the reasons the projector writes).
 */
export function parseSelection(args: SelectionArgs, positionals: string[] = []): Selection {
  const selection: Selection = {
    reasons: args.reason ?? [],
    coordinates: positionals.map(parseDeadLetterCoordinates),
  };
  const unknown = selection.reasons.find(
    (r) => !(DEAD_LETTER_REASONS as readonly string[]).includes(r),
  );
  if (unknown !== undefined) {
    throw new UsageError(
      `--reason must be one of ${DEAD_LETTER_REASONS.join(', ')}; got "${unknown}"`,
    );
  }
  if (args.partition !== undefined) {
    selection.partition = wholeNumber('--partition', args.partition);
  }
  if (args['from-offset'] !== undefined) {
    selection.fromOffset = wholeNumber('--from-offset', args['from-offset']);
  }
  if (args['to-offset'] !== undefined) {
    selection.toOffset = wholeNumber('--to-offset', args['to-offset']);
  }
  if (args.since !== undefined) selection.since = parseTime('--since', args.since);
  if (args.until !== undefined) selection.until = parseTime('--until', args.until);
  if (args.limit !== undefined) selection.limit = wholeNumber('--limit', args.limit, 1);
  const { fromOffset, toOffset, since, until } = selection;
  if (fromOffset !== undefined && toOffset !== undefined && fromOffset > toOffset) {
    throw new UsageError(`--from-offset ${fromOffset} is after --to-offset ${toOffset}`);
  }
  if (since !== undefined && until !== undefined && since >= until) {
    throw new UsageError('--since must be before --until');
  }
  return selection;
}

/** True when the selection names some dead letters (what redrive asks for, or --all). */
export function isNarrowed(selection: Selection): boolean {
  return (
    selection.reasons.length > 0 ||
    selection.partition !== undefined ||
    selection.fromOffset !== undefined ||
    selection.toOffset !== undefined ||
    selection.since !== undefined ||
    selection.until !== undefined ||
    selection.coordinates.length > 0
  );
}

/**
 * Throws a NotInTopic (a UsageError) when the selection names a partition (`--partition`, or the partition
 * of a `PARTITION:OFFSET`) that the dead-letter topic does not have, naming the ones it has;
 * `ends` holds the topic's partitions (their `[low, high)` offsets), `topic` its name.
 */
export function checkPartitions(
  selection: Selection,
  ends: ReadonlyMap<number, [number, number]>,
  topic: string,
): void {
  const named = [
    ...(selection.partition === undefined ? [] : [selection.partition]),
    ...selection.coordinates.map((c) => c.partition),
  ];
  const missing = named.find((p) => !ends.has(p));
  if (missing === undefined) return;
  const has = [...ends.keys()].sort((a, b) => a - b);
  const range = has.length <= 1 ? has.join('') || 'none' : `${has[0]} to ${has[has.length - 1]}`;
  throw new NotInTopic(
    `the dead-letter topic ${topic} has no partition ${missing} (its partitions: ${range})`,
  );
}

/**
 * The offsets to read per partition, `[from, to)`, given each partition's `[low, high)` in
 * the topic now: only what the selection's partition, offsets and coordinates can hold.
 * Partitions with nothing to read are left out.
 */
export function readRanges(
  selection: Selection,
  ends: Map<number, [number, number]>,
): Map<number, [number, number]> {
  const ranges = new Map<number, [number, number]>();
  for (const [partition, [low, high]] of ends) {
    if (selection.partition !== undefined && selection.partition !== partition) continue;
    let from = Math.max(low, selection.fromOffset ?? 0);
    let to = Math.min(high, (selection.toOffset ?? Infinity) + 1);
    if (selection.coordinates.length > 0) {
      const offsets = selection.coordinates
        .filter((c) => c.partition === partition)
        .map((c) => c.offset);
      if (offsets.length === 0) continue;
      from = Math.max(from, Math.min(...offsets));
      to = Math.min(to, Math.max(...offsets) + 1);
    }
    if (from < to) ranges.set(partition, [from, to]);
  }
  return ranges;
}

/** True when a dead letter read from the ranges is one the selection names (limit aside). */
export function selects(selection: Selection, view: DeadLetterView): boolean {
  if (selection.reasons.length > 0 && !selection.reasons.includes(view.reason)) return false;
  if (selection.partition !== undefined && view.partition !== selection.partition) return false;
  if (selection.fromOffset !== undefined && view.offset < selection.fromOffset) return false;
  if (selection.toOffset !== undefined && view.offset > selection.toOffset) return false;
  if (selection.since !== undefined && view.timestamp < selection.since) return false;
  if (selection.until !== undefined && view.timestamp >= selection.until) return false;
  if (
    selection.coordinates.length > 0 &&
    !selection.coordinates.some((c) => c.partition === view.partition && c.offset === view.offset)
  ) {
    return false;
  }
  return true;
}
