import type { Admin } from 'kafkajs';
import { errorCatalogue } from '@catchall/core';
import type { RebuildOptions } from './rebuild';

/** Refused before anything was written: the message says why and what to do. */
export class RebuildRefused extends Error {
  readonly code = errorCatalogue.rebuildRefused.code;
  readonly retriable = errorCatalogue.rebuildRefused.retriable;
}

/** The starting offset of each partition: the earliest, or the first at `fromTime`. */
export async function startOffsets(
  admin: Admin,
  options: RebuildOptions,
  ends: Map<number, { low: number; high: number }>,
): Promise<Map<number, number>> {
  if (options.fromTime) {
    const byTime = await admin.fetchTopicOffsetsByTimestamp(
      options.topic,
      options.fromTime.getTime(),
    );
    // A partition with nothing at or after that time starts at its end.
    return new Map(
      byTime.map((o) => {
        const offset = Number(o.offset);
        return [o.partition, offset < 0 ? ends.get(o.partition)!.high : offset];
      }),
    );
  }
  return new Map([...ends].map(([partition, { low }]) => [partition, low]));
}

/**
 * Records the rebuild needs but retention deleted: a new rebuild from the earliest offsets
 * needs every record from 0; a resumed one those from its stored positions on.
 */
export function checkTruncation(
  options: RebuildOptions,
  ends: Map<number, { low: number }>,
  from: Map<number, number>,
  resumed: boolean,
): void {
  if (options.acceptTruncated || (options.fromTime && !resumed)) return;
  const truncated = [...ends]
    .filter(([partition, { low }]) => (resumed ? (from.get(partition) ?? 0) < low : low > 0))
    .map(([partition, { low }]) => `${partition} (earliest offset ${low})`);
  if (truncated.length === 0) return;
  throw new RebuildRefused(
    `Topic ${options.topic} has lost records the rebuild needs on partition ${truncated.join(', ')}: ` +
      'retention deleted them, so the rebuilt counts would be lower than the true ones. ' +
      'Refusing. Pass --accept-truncated to rebuild from what is left anyway.',
  );
}
