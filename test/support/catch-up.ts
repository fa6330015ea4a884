import type pg from 'pg';
import { testKafka } from './kafka';
import { waitFor } from './wait';

/** Per partition: the stored position of the live read model version ("next offset to apply"). */
async function livePositions(pool: pg.Pool, topic: string): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ partition: number; next_offset: string }>(
    `SELECT p.partition, p.next_offset FROM projection_positions p
     JOIN live_read_model l ON l.version = p.version WHERE p.topic = $1`,
    [topic],
  );
  return new Map(rows.map((r) => [r.partition, Number(r.next_offset)]));
}

/**
 * Waits until the live read model version has applied the topic up to its end on every
 * partition (the last stable offset: what read_committed readers may read up to).
 */
export async function waitForLiveCatchUp(
  pool: pg.Pool,
  topic: string,
  brokers: string,
  timeoutMs = 90000,
): Promise<void> {
  const admin = testKafka(brokers).admin();
  await admin.connect();
  let behind = '';
  try {
    await waitFor(
      `the live read model to reach the end of ${topic}`,
      async () => {
        const [ends, stored] = await Promise.all([
          admin.fetchTopicOffsets(topic),
          livePositions(pool, topic),
        ]);
        const lagging = ends.filter((e) => (stored.get(e.partition) ?? 0) < Number(e.high));
        behind = lagging
          .map((e) => `partition ${e.partition} at ${stored.get(e.partition) ?? 0} of ${e.high}`)
          .join(', ');
        return lagging.length === 0;
      },
      { timeoutMs, intervalMs: 200 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${behind}`);
  } finally {
    await admin.disconnect();
  }
}
