import pg from 'pg';
import { parseConsistencyToken } from '@catchall/core';
import { latencyHistogram } from './report';

/** One sample of the read model's progress: the sum of its next offsets, at a time. */
export interface ProgressSample {
  at: number;
  applied: number;
  /** Next offset to apply, by partition. */
  positions: ReadonlyMap<number, number>;
}

interface Probe {
  sentAt: number;
  ackedAt: number;
  partition: number;
  offset: number;
}

/**
 * Watches the live read model's positions (projection_positions of the live version) every
 * `everyMs`: the progress over time, and the freshness of probe events, each the time from
 * the ingest API's 202 to the read model having applied the offset its consistency token
 * names. One small query per tick, whatever the number of probes.
 */
export function watchPositions(options: { pool: pg.Pool; topic: string; everyMs?: number }) {
  const { pool, topic } = options;
  const samples: ProgressSample[] = [];
  const positions = new Map<number, number>();
  const pending = new Set<Probe>();
  const done: { sentAt: number; ms: number }[] = [];
  let stopped = false;

  async function tick(): Promise<void> {
    const { rows } = await pool.query<{ partition: number; next_offset: string }>(
      `SELECT partition, next_offset::text FROM projection_positions
       WHERE topic = $1 AND version = (SELECT version FROM live_read_model)`,
      [topic],
    );
    const at = Date.now();
    let applied = 0;
    for (const r of rows) {
      positions.set(r.partition, Number(r.next_offset));
      applied += Number(r.next_offset);
    }
    samples.push({ at, applied, positions: new Map(positions) });
    for (const p of pending) {
      if ((positions.get(p.partition) ?? 0) > p.offset) {
        pending.delete(p);
        done.push({ sentAt: p.sentAt, ms: at - p.ackedAt });
      }
    }
  }

  let failure: unknown;
  const running = (async () => {
    while (!stopped) {
      try {
        await tick();
      } catch (err) {
        // Kept and thrown by the next probe or stop: the figures would be wrong without it.
        failure = err;
        return;
      }
      await new Promise((r) => setTimeout(r, options.everyMs ?? 50));
    }
  })();
  const healthy = () => {
    if (failure) throw failure;
  };

  return {
    positions: positions as ReadonlyMap<number, number>,
    samples: samples as readonly ProgressSample[],
    /** Sends one event through the ingest API and follows its token. */
    async probe(ingestUrl: string, domain: string): Promise<void> {
      healthy();
      const sentAt = Date.now();
      const res = await fetch(`${ingestUrl}/events/${domain}/delivered`, { method: 'PUT' });
      const ackedAt = Date.now();
      const token = res.headers.get('consistency-token');
      await res.arrayBuffer();
      if (res.status !== 202 || !token) throw new Error(`probe answered ${res.status}`);
      const parsed = parseConsistencyToken(token);
      if (!parsed.ok) throw new Error(`probe token ${token}: ${parsed.reason}`);
      const [entry] = [...parsed.token.offsets];
      if (!entry) throw new Error(`probe token ${token} names no offset`);
      pending.add({ sentAt, ackedAt, partition: entry[0], offset: entry[1] });
    },
    /** Freshness (ms) of the probes sent in [from, to): p50, p95, p99, max, and how many. */
    freshness(from: number, to: number) {
      const h = latencyHistogram();
      let max = 0;
      let n = 0;
      for (const d of done) {
        if (d.sentAt < from || d.sentAt >= to) continue;
        h.record(d.ms);
        max = Math.max(max, d.ms);
        n += 1;
      }
      const late = [...pending].filter((p) => p.sentAt >= from && p.sentAt < to).length;
      return { probes: n, ...h.summary(), max, 'not applied yet': late };
    },
    /** The sum of next offsets at the last sample at or before `at`. */
    appliedAt(at: number): number {
      let value = 0;
      for (const s of samples) {
        if (s.at > at) break;
        value = s.applied;
      }
      return value;
    },
    /** Resolves once every probe sent so far is applied (or after `timeoutMs`). */
    async settled(timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (pending.size > 0 && Date.now() < deadline) {
        healthy();
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(): Promise<void> {
      stopped = true;
      await running;
      healthy();
    },
  };
}

type Watch = ReturnType<typeof watchPositions>;

/**
 * The longest time, in s, any one partition's position stood still within [from, to]: a
 * partition whose member was killed stands still until its session times out, while the
 * others move on. Under a steady load every partition has records to apply all along.
 */
export function longestPause(watch: Watch, from: number, to: number): number {
  const since = new Map<number, { at: number; offset: number }>();
  let longest = 0;
  for (const s of watch.samples) {
    if (s.at < from || s.at > to) continue;
    for (const [partition, offset] of s.positions) {
      const last = since.get(partition);
      if (!last) since.set(partition, { at: s.at, offset });
      else if (last.offset !== offset) {
        longest = Math.max(longest, s.at - last.at);
        since.set(partition, { at: s.at, offset });
      }
    }
  }
  for (const last of since.values()) longest = Math.max(longest, to - last.at);
  return Number((longest / 1000).toFixed(2));
}
