import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { formatConsistencyToken, type PartitionOffsets } from '@catchall/core';

const DESCRIPTION =
  'read-your-writes: send it as the `Consistency-Token` header of a query (GET /domains/{domain}, POST /domains/lookup) to be answered once the read model has applied these events. `<topic>:<partition>:<offset>[,<partition>:<offset>...]`: per partition, the offset of the last record of this request, partitions ascending (e.g. `domain-events:3:1042,7:88`)';

/** The token in a 202 body; absent only in the unexpected case that Kafka did not tell. */
export const ConsistencyTokenField = Type.Optional(
  Type.String({
    pattern: '^[a-zA-Z0-9._-]+:[0-9]+:[0-9]+(,[0-9]+:[0-9]+)*$',
    description: DESCRIPTION,
  }),
);

/** The 202 answer's `Consistency-Token` header, for the route's response schema (OpenAPI). */
export const consistencyTokenHeader = {
  // @fastify/swagger reads a response schema's `headers` as header name -> schema.
  headers: { 'Consistency-Token': Type.String({ description: DESCRIPTION }) },
};

/**
 * Sets the answer's `Consistency-Token` header to the token of `offsets` (the records of the
 * request, see Publisher.publish) and returns it for the body; nothing when there are none.
 */
export function answerConsistencyToken(
  reply: FastifyReply,
  topic: string,
  offsets: PartitionOffsets | undefined,
): string | undefined {
  if (offsets === undefined || offsets.size === 0) return undefined;
  const token = formatConsistencyToken(topic, offsets);
  void reply.header('consistency-token', token);
  return token;
}
