import pg from 'pg';
import { createEventDecoder } from '@catchall/schemas';
import { benchKafka } from './preload';

export interface Counts {
  delivered: number;
  bounced: number;
}

/**
 * Counts per domain computed from the topic itself, apart from the projector: a consumer
 * of its own (committed records only, as the projector reads) decodes every record with
 * the registry and folds delivered and bounced per domain. It stops once it has `expected`
 * records and no more came for `quietMs`; more than expected is reported, not hidden.
 */
export async function countsFromTopic(options: {
  brokers: string;
  registryUrl: string;
  topic: string;
  expected: number;
  quietMs?: number;
  timeoutMs?: number;
}): Promise<{ records: number; counts: Map<string, Counts> }> {
  const decoder = createEventDecoder({ registryUrl: options.registryUrl });
  const consumer = benchKafka(options.brokers).consumer({
    groupId: `bench-verify-${Date.now()}`,
    maxBytes: 16 * 1024 * 1024,
  });
  const counts = new Map<string, Counts>();
  let records = 0;
  let lastAt = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const event = await decoder.decode(message.value);
          const c = counts.get(event.domain) ?? { delivered: 0, bounced: 0 };
          if (event.type === 'delivered') c.delivered += 1;
          else if (event.type === 'bounced') c.bounced += 1;
          else throw new Error(`record ${batch.partition}:${message.offset}: type ${event.type}`);
          counts.set(event.domain, c);
          records += 1;
        }
        lastAt = Date.now();
      },
    });
    const deadline = Date.now() + (options.timeoutMs ?? 300_000);
    while (records < options.expected || Date.now() - lastAt < (options.quietMs ?? 3000)) {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await consumer.disconnect();
  }
  return { records, counts };
}

/**
 * Compares the live read model with counts computed elsewhere: the domains whose delivered
 * or bounced differ (either side missing counts as zero), at most `sample` of them listed.
 */
export async function compareReadModel(
  pool: pg.Pool,
  expected: Map<string, Counts>,
  sample = 5,
): Promise<{ domains: number; differing: number; examples: string[] }> {
  const { rows } = await pool.query<{ domain: string; delivered: string; bounced: string }>(
    `SELECT domain, delivered::text, bounced::text FROM domain_stats
     WHERE version = (SELECT version FROM live_read_model)`,
  );
  const examples: string[] = [];
  let differing = 0;
  const note = (domain: string, stored: Counts, topic: Counts | undefined) => {
    differing += 1;
    if (examples.length < sample) {
      examples.push(
        `${domain}: read model ${JSON.stringify(stored)}, topic ${JSON.stringify(topic ?? null)}`,
      );
    }
  };
  const seen = new Set<string>();
  for (const r of rows) {
    seen.add(r.domain);
    const stored = { delivered: Number(r.delivered), bounced: Number(r.bounced) };
    const topic = expected.get(r.domain);
    if (!topic || topic.delivered !== stored.delivered || topic.bounced !== stored.bounced) {
      note(r.domain, stored, topic);
    }
  }
  for (const [domain, topic] of expected) {
    if (!seen.has(domain)) note(domain, { delivered: 0, bounced: 0 }, topic);
  }
  return { domains: rows.length, differing, examples };
}
