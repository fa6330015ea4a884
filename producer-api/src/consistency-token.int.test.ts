import { parseConsistencyToken } from '@catchall/core';
import { createEventDecoder } from '@catchall/schemas';
import { testInfra } from '../../test/support/env';
import { readAll } from '../../test/support/kafka';
import { useTestProducer } from '../../test/support/producer-service';

interface TokenAnswer {
  consistencyToken: string;
  events?: { eventId: string }[];
  eventId?: string;
}

describe('consistency tokens against the real broker', () => {
  // Small produce requests: a batch's records then take several, each with its base offsets.
  const fixture = useTestProducer(6, { PRODUCE_REQUEST_MAX_BYTES: '4096' });

  it("name exactly the offset of each request's last record per partition, for concurrent PUTs and batches sharing transactions", async () => {
    const { app } = fixture.service;
    const answers = (await Promise.all([
      ...Array.from({ length: 40 }, (_, i) =>
        app.inject({ method: 'PUT', url: `/events/put-${i % 13}.example/delivered` }),
      ),
      ...Array.from({ length: 6 }, (_, b) =>
        app.inject({
          method: 'POST',
          url: '/events',
          payload: Array.from({ length: 150 }, (_, i) => ({
            domain: `batch-${b}-${i % 37}.example`,
            type: 'delivered',
          })),
        }),
      ),
    ]).then((responses) =>
      responses.map((r) => {
        expect(r.statusCode).toBe(202);
        const body = r.json<TokenAnswer>();
        expect(r.headers['consistency-token']).toBe(body.consistencyToken);
        return body;
      }),
    )) as TokenAnswer[];

    // Where each event id is in the log, by reading it back.
    const decoder = createEventDecoder({ registryUrl: testInfra().registryUrl });
    const placed = new Map<string, { partition: number; offset: number }>();
    for (const record of await readAll(fixture.topic.name)) {
      const { eventId } = await decoder.decode(record.message.value);
      placed.set(eventId, { partition: record.partition, offset: Number(record.offset) });
    }

    for (const answer of answers) {
      const ids = answer.events?.map((e) => e.eventId) ?? [answer.eventId!];
      const expected = new Map<number, number>();
      for (const id of ids) {
        const { partition, offset } = placed.get(id)!;
        expected.set(partition, Math.max(offset, expected.get(partition) ?? -1));
      }
      const parsed = parseConsistencyToken(answer.consistencyToken);
      expect(parsed).toEqual({ ok: true, token: { topic: fixture.topic.name, offsets: expected } });
      const partitions = answer.consistencyToken.split(',').map((e) => Number(e.split(':').at(-2)));
      expect(partitions).toEqual([...partitions].sort((a, b) => a - b));
    }
  });
});
