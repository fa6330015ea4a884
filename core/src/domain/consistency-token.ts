/**
 * Consistency tokens (read-your-writes): which records of the events topic a reader needs
 * the read model to have applied. Text form, as the ingest API answers it and as a direct
 * producer builds it from its delivery reports:
 *
 *   <topic>:<partition>:<offset>[,<partition>:<offset>...]     e.g. domain-events:3:1042,7:88
 *
 * Each offset is that of the LAST record written to the partition (the highest offset of its
 * delivery reports); partitions in ascending order, each once. Kafka topic names hold only
 * ASCII letters, digits, `.`, `_` and `-`, so `:` and `,` cannot be part of one.
 *
 * Parsing is more lenient than formatting, so that tokens can be combined without parsing
 * them: entries in any order, a partition named twice (its highest offset counts), the topic
 * repeated before any entry, and several tokens of one topic joined by `,` (optional spaces
 * around it, as HTTP joins repeated header lines) mean their merge.
 */

/** Partition -> the highest offset the reader needs applied (offsets are of records). */
export type PartitionOffsets = ReadonlyMap<number, number>;

export interface ConsistencyToken {
  topic: string;
  offsets: PartitionOffsets;
}

export type ParsedConsistencyToken =
  { ok: true; token: ConsistencyToken } | { ok: false; reason: string };

/** Characters of a token at most (a token per partition of a 10,000-partition topic fits). */
export const MAX_CONSISTENCY_TOKEN_LENGTH = 262_144;

/** A Kafka topic name: 1 to 249 of `[a-zA-Z0-9._-]` (Kafka's Topic.validate). */
const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
/** A partition (int32, non-negative) or an offset: decimal digits, no sign, no leading zero. */
const NUMBER = /^(?:0|[1-9][0-9]{0,15})$/;
const MAX_PARTITION = 2 ** 31 - 1;

/**
 * The text form of `offsets` for `topic`: partitions ascending. Throws a RangeError when
 * `offsets` is empty (a token names at least one record).
 */
export function formatConsistencyToken(topic: string, offsets: PartitionOffsets): string {
  if (offsets.size === 0) throw new RangeError('a consistency token names at least one record');
  if (offsets.size === 1) {
    // One partition, as for every single event: no array, no sort.
    for (const [partition, offset] of offsets) return `${topic}:${partition}:${offset}`;
  }
  const partitions = [...offsets.keys()].sort((a, b) => a - b);
  return `${topic}:${partitions.map((p) => `${p}:${offsets.get(p)!}`).join(',')}`;
}

function readNumber(text: string, max: number): number | undefined {
  if (!NUMBER.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

/**
 * Reads a token's text form (see the module comment). Refusals say what is wrong, for the
 * 400 answer: an empty token, an entry that is not `<partition>:<offset>` or
 * `<topic>:<partition>:<offset>`, a partition beyond int32, an offset beyond 2^53 - 1, two
 * topics, or a token longer than MAX_CONSISTENCY_TOKEN_LENGTH.
 */
export function parseConsistencyToken(text: string): ParsedConsistencyToken {
  if (text.length > MAX_CONSISTENCY_TOKEN_LENGTH) {
    return { ok: false, reason: `it is longer than ${MAX_CONSISTENCY_TOKEN_LENGTH} characters` };
  }
  let topic: string | undefined;
  const offsets = new Map<number, number>();
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    const parts = entry.split(':');
    if (parts.length === 3) {
      if (!TOPIC.test(parts[0]!)) return { ok: false, reason: `"${entry}" names no valid topic` };
      if (topic !== undefined && topic !== parts[0]) {
        return { ok: false, reason: `it names two topics, ${topic} and ${parts[0]}` };
      }
      topic = parts[0];
    } else if (parts.length !== 2 || topic === undefined) {
      return {
        ok: false,
        reason: `"${entry}" is not <partition>:<offset> after a <topic>:<partition>:<offset>`,
      };
    }
    const partition = readNumber(parts[parts.length - 2]!, MAX_PARTITION);
    const offset = readNumber(parts[parts.length - 1]!, Number.MAX_SAFE_INTEGER);
    if (partition === undefined || offset === undefined) {
      return { ok: false, reason: `"${entry}" holds no valid partition and offset` };
    }
    offsets.set(partition, Math.max(offset, offsets.get(partition) ?? -1));
  }
  return { ok: true, token: { topic: topic!, offsets } };
}

/**
 * The token that asks for everything the given ones ask for: per partition, the highest
 * offset. Throws a RangeError when they name different topics or none is given.
 */
export function mergeConsistencyTokens(...tokens: ConsistencyToken[]): ConsistencyToken {
  if (tokens.length === 0) throw new RangeError('no token to merge');
  const topic = tokens[0]!.topic;
  const offsets = new Map<number, number>();
  for (const token of tokens) {
    if (token.topic !== topic) {
      throw new RangeError(`tokens of two topics, ${topic} and ${token.topic}, do not merge`);
    }
    for (const [partition, offset] of token.offsets) {
      offsets.set(partition, Math.max(offset, offsets.get(partition) ?? -1));
    }
  }
  return { topic, offsets };
}

/**
 * True when `positions` (partition -> next offset to apply, as the projector stores them)
 * have passed every offset of `offsets`: offset o is applied once next_offset > o. A
 * partition without a position has applied nothing.
 */
export function offsetsApplied(offsets: PartitionOffsets, positions: PartitionOffsets): boolean {
  for (const [partition, offset] of offsets) {
    if (!((positions.get(partition) ?? 0) > offset)) return false;
  }
  return true;
}
