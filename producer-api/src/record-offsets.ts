import type { Message, RecordMetadata } from 'kafkajs';
import type { PartitionOffsets } from '@catchall/core';

/**
 * Writes the offset of each record of one produce request into `offsets`, from `start` on:
 * the broker appends a partition's records in the order sent, numbered from the base offset
 * its answer gives (kafkajs sends one record batch per partition, in message order), and each
 * message's partition is the one recordingPartitioner wrote into it. A record whose partition
 * or base offset is unknown gets NaN.
 */
export function recordOffsets(
  sent: Message[],
  metadata: RecordMetadata[],
  offsets: number[],
  start: number,
): void {
  // Partition -> offset of its next record in this request; partitions are small integers.
  const next: number[] = [];
  for (const m of metadata) next[m.partition] = Number(m.baseOffset ?? NaN);
  for (let i = 0; i < sent.length; i += 1) {
    const partition = sent[i]!.partition;
    const offset = partition === undefined ? undefined : next[partition];
    if (offset === undefined) {
      offsets[start + i] = NaN;
    } else {
      offsets[start + i] = offset;
      next[partition!] = offset + 1;
    }
  }
}

/**
 * The highest offset per partition of `count` records from `start`, as a consistency token
 * names them (their offsets from recordOffsets); undefined when one of them is unknown.
 */
export function lastOffsets(
  messages: Message[],
  offsets: number[],
  start: number,
  count: number,
): PartitionOffsets | undefined {
  const last = new Map<number, number>();
  for (let i = start; i < start + count; i += 1) {
    const offset = offsets[i];
    if (offset === undefined || Number.isNaN(offset)) return undefined;
    // Offsets grow with the index within a partition: the last one seen is the highest.
    last.set(messages[i]!.partition!, offset);
  }
  return last;
}
