import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import {
  CONSISTENCY_TOKEN_FORMAT,
  errors,
  parseConsistencyToken,
  type PartitionOffsets,
} from '@catchall/core';
import type { ConsistencyWatcher } from '../consistency-watcher';

/** The request headers of the routes that take a Consistency-Token, for their schema. */
export const ConsistencyHeaders = Type.Object({
  'consistency-token': Type.Optional(
    Type.String({
      format: CONSISTENCY_TOKEN_FORMAT,
      description:
        "read-your-writes: the `consistencyToken` of ingest answers (or `<topic>:<partition>:<offset>[,<partition>:<offset>...]` built from a producer's delivery reports; several tokens of the topic joined by `,` mean all of them). The answer waits until the read model has applied those records, at most CONSISTENCY_WAIT_MS, else 503 CATCHALL_CONSISTENCY_TIMEOUT; a malformed token or another topic is 400 CATCHALL_INVALID_CONSISTENCY_TOKEN",
    }),
  ),
});

/**
 * The offsets a request's `Consistency-Token` asks for; undefined without one. Throws 400
 * CATCHALL_INVALID_CONSISTENCY_TOKEN for a malformed token or one of another topic.
 */
export function requestedOffsets(
  header: string | string[] | undefined,
  topic: string,
): PartitionOffsets | undefined {
  if (header === undefined) return undefined;
  // Repeated header lines are one list (RFC 9110 section 5.3), which the syntax allows.
  const text = Array.isArray(header) ? header.join(',') : header;
  const parsed = parseConsistencyToken(text);
  if (!parsed.ok) throw errors.invalidConsistencyToken(parsed.reason, topic);
  if (parsed.token.topic !== topic) {
    throw errors.invalidConsistencyToken(
      `it names the topic ${parsed.token.topic}, and the read model follows another`,
      topic,
    );
  }
  return parsed.token.offsets;
}

/**
 * A preHandler that holds a request with a Consistency-Token until the read model has
 * applied its records (see ConsistencyWatcher.waitFor for the 503 answers); a request
 * without one passes at once.
 */
export function awaitConsistency(watcher: ConsistencyWatcher, topic: string) {
  return async (request: FastifyRequest): Promise<void> => {
    const offsets = requestedOffsets(request.headers['consistency-token'], topic);
    if (offsets !== undefined) await watcher.waitFor(offsets);
  };
}
