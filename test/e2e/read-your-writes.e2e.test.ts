import {
  createIdempotentProducer,
  errorCatalogue,
  formatConsistencyToken,
  mergeConsistencyTokens,
  parseConsistencyToken,
  type ConsistencyToken,
} from '@catchall/core';
import { projectorEnv } from '../support/env';
import { encoderFor, toEvent } from '../support/events';
import { createTestTopic, testKafka, type TestTopic } from '../support/kafka';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { spawnAllServices, type RunningService } from '../support/services';

/** Short, so that the test of a token never reached does not take the default 2 s. */
const WAIT_MS = 1500;

interface DomainAnswer {
  domain: string;
  delivered: number;
  bounced: number;
}

describe('read-your-writes: a read with the consistency token of a write counts that write', () => {
  let topic: TestTopic;
  let db: TestDatabase;
  let services: RunningService[] = [];
  let ingest: string;
  let query: string;

  beforeAll(async () => {
    topic = await createTestTopic(3);
    db = await createTestDatabase();
    services = await spawnAllServices({
      ...projectorEnv(topic.name, db.url),
      CONSISTENCY_WAIT_MS: String(WAIT_MS),
    });
    ingest = services[0]!.url;
    query = services[2]!.url;
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await db.drop();
    await topic.delete();
  });

  const readWith = (token: string, domain: string) =>
    fetch(`${query}/domains/${domain}`, { headers: { 'consistency-token': token } });

  const lookupWith = (token: string, domains: string[]) =>
    fetch(`${query}/domains/lookup`, {
      method: 'POST',
      headers: { 'consistency-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({ domains }),
    });

  /** PUTs one delivery, reads it back at once with its token: the count must include it. */
  async function putThenGet(domain: string, expected: number): Promise<void> {
    const put = await fetch(`${ingest}/events/${domain}/delivered`, { method: 'PUT' });
    expect(put.status).toBe(202);
    const token = put.headers.get('consistency-token')!;
    expect(((await put.json()) as { consistencyToken: string }).consistencyToken).toBe(token);
    expect(token).toMatch(new RegExp(`^${topic.name}:\\d+:\\d+$`));
    const read = await readWith(token, domain);
    expect(read.status).toBe(200);
    expect(((await read.json()) as DomainAnswer).delivered).toBe(expected);
  }

  /** POSTs a batch of one delivery per domain, then looks them all up at once with its token. */
  async function batchThenLookup(domains: string[], expected: number): Promise<void> {
    const post = await fetch(`${ingest}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'return=minimal' },
      body: JSON.stringify(domains.map((domain) => ({ domain, type: 'delivered' }))),
    });
    expect(post.status).toBe(202);
    const token = post.headers.get('consistency-token')!;
    expect(parseConsistencyToken(token).ok).toBe(true);
    const read = await lookupWith(token, domains);
    expect(read.status).toBe(200);
    const { results } = (await read.json()) as { results: DomainAnswer[] };
    expect(results.map((r) => r.delivered)).toEqual(domains.map(() => expected));
  }

  it('shows the event at once, 200 times over, after PUTs and batches from four clients at a time', async () => {
    let pairs = 0;
    // Each client its own domains, so that each count it reads is what it wrote.
    const client = async (c: number) => {
      for (let i = 0; i < 50; i += 1) {
        const round = Math.floor(i / 2) + 1;
        if (i % 2 === 0) await putThenGet(`put-${c}.example`, round);
        else {
          const domains = Array.from({ length: 5 }, (_, d) => `batch-${c}-${d}.example`);
          await batchThenLookup(domains, round);
        }
        pairs += 1;
      }
    };
    await Promise.all([0, 1, 2, 3].map(client));
    expect(pairs).toBe(200);
  });

  it('counts the writes of a direct producer read with the token it builds from its delivery reports', async () => {
    const encoder = await encoderFor(topic.name);
    const producer = createIdempotentProducer(testKafka());
    await producer.connect();
    const domains = Array.from({ length: 6 }, (_, i) => `direct-${i}.example`);
    const tokens: ConsistencyToken[] = [];
    try {
      for (const domain of domains) {
        // One record per send: its delivery report's base offset is the record's offset.
        const [report] = await producer.send({
          topic: topic.name,
          acks: -1,
          messages: [
            { key: domain, value: encoder.encode(toEvent({ domain, type: 'delivered' })) },
          ],
        });
        tokens.push({
          topic: topic.name,
          offsets: new Map([[report!.partition, Number(report!.baseOffset)]]),
        });
      }
    } finally {
      await producer.disconnect();
    }
    const merged = mergeConsistencyTokens(...tokens);
    const token = formatConsistencyToken(topic.name, merged.offsets);
    const read = await lookupWith(token, domains);
    expect(read.status).toBe(200);
    const { results } = (await read.json()) as { results: DomainAnswer[] };
    expect(results.map((r) => r.delivered)).toEqual(domains.map(() => 1));
    // The tokens of each send joined as they come, unparsed, mean the same.
    const joined = tokens.map((t) => formatConsistencyToken(t.topic, t.offsets)).join(', ');
    expect((await readWith(joined, domains[5]!)).status).toBe(200);
  });

  it('answers 503 CATCHALL_CONSISTENCY_TIMEOUT with Retry-After after CONSISTENCY_WAIT_MS for offsets never reached', async () => {
    const started = Date.now();
    const read = await readWith(`${topic.name}:0:1000000000`, 'put-0.example');
    const waited = Date.now() - started;
    expect(read.status).toBe(503);
    expect(read.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await read.json()).toMatchObject({ code: errorCatalogue.consistencyTimeout.code });
    expect(waited).toBeGreaterThanOrEqual(WAIT_MS - 50);
    expect(waited).toBeLessThan(WAIT_MS + 1500);
    const lookup = await lookupWith(`${topic.name}:1:5,2:1000000000`, ['put-0.example']);
    expect(lookup.status).toBe(503);
  });

  it.each([
    ['malformed', (t: string) => `${t}:0`],
    ['with a sign', (t: string) => `${t}:0:+1`],
    ['of another topic', () => 'domain-events-elsewhere:0:1'],
  ])('refuses a token %s with 400 CATCHALL_INVALID_CONSISTENCY_TOKEN', async (_, tokenFor) => {
    const token = tokenFor(topic.name);
    for (const response of [
      await readWith(token, 'put-0.example'),
      await lookupWith(token, ['put-0.example']),
    ]) {
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({
        code: errorCatalogue.invalidConsistencyToken.code,
      });
    }
  });

  it('reads without a token as before: no wait, no header needed', async () => {
    const read = await fetch(`${query}/domains/put-0.example`);
    expect(read.status).toBe(200);
    expect(read.headers.get('vary')).toBe('Consistency-Token');
  });
});
