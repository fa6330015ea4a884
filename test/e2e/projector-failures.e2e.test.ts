import { projectorEnv } from '../support/env';
import { streamEvents, type EventStream } from '../support/event-stream';
import { createTestTopic, type TestTopic } from '../support/kafka';
import { createTestDatabase, readModelCounts, type TestDatabase } from '../support/postgres';
import { spawnService, type RunningService } from '../support/services';
import { countsFromTopic } from '../support/topic-truth';
import { waitFor } from '../support/wait';

function sorted(counts: Map<string, unknown>): string {
  return JSON.stringify([...counts].sort(([a], [b]) => a.localeCompare(b)));
}

/** The fault schedule: how long events flow between two faults (not a wait on a condition). */
const underLoadFor = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A pseudo-random but repeatable sequence, so that a failure can be replayed. */
function sequence(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

describe('the projector under crashes and rebalances, as separate processes', () => {
  let topic: TestTopic;
  let db: TestDatabase;
  let env: Record<string, string>;
  const members: RunningService[] = [];
  let stream: EventStream | undefined;

  beforeEach(async () => {
    topic = await createTestTopic(6);
    db = await createTestDatabase();
    env = {
      ...projectorEnv(topic.name, db.url),
      FLUSH_INTERVAL_MS: '100',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      PARTITIONS_CONCURRENCY: '6',
      MIGRATE_ON_START: 'false',
    };
  });

  afterEach(async () => {
    await stream?.stop();
    stream = undefined;
    await Promise.all(members.splice(0).map((m) => m.stop()));
    await db.drop();
    await topic.delete();
  });

  async function expectReadModelToEqualTheTopic(): Promise<void> {
    const truth = await countsFromTopic(topic.name);
    expect(truth.size).toBeGreaterThan(0);
    try {
      await waitFor(
        'the read model to equal the counts computed from the topic',
        async () => sorted(await readModelCounts(db.pool)) === sorted(truth),
        { timeoutMs: 90000, intervalMs: 250 },
      );
    } catch (err) {
      // Say how they differ: fewer counts (lost or late) or more (counted twice).
      const actual = await readModelCounts(db.pool);
      const total = (m: Map<string, { delivered: number; bounced: number }>) =>
        [...m.values()].reduce((n, c) => n + c.delivered + c.bounced, 0);
      const differing = [...truth]
        .filter(([d, c]) => JSON.stringify(actual.get(d)) !== JSON.stringify(c))
        .slice(0, 5)
        .map(
          ([d, c]) => `${d}: expected ${JSON.stringify(c)}, got ${JSON.stringify(actual.get(d))}`,
        );
      throw new Error(
        `${(err as Error).message}; events in topic ${total(truth)}, in read model ${total(actual)}; ${differing.join('; ')}`,
      );
    }
  }

  // Each kill leaves a dead member in the group until its session times out (6 s here).
  it('counts every record exactly once across SIGKILLs at random moments', async () => {
    const random = sequence(42);
    stream = await streamEvents(topic.name, {
      batch: 100,
      everyMs: 20,
      domains: 300,
      maxEvents: 60000,
    });
    members.push(await spawnService('consumer', env), await spawnService('consumer', env));
    for (let round = 0; round < 5; round += 1) {
      await underLoadFor(500 + random() * 1500);
      const victim = members.splice(Math.floor(random() * members.length), 1)[0]!;
      victim.child.kill('SIGKILL');
      await victim.stop();
      // In the last round the survivor carries on alone for a while before the restart.
      if (round === 4) await underLoadFor(1500);
      members.push(await spawnService('consumer', env));
    }
    const sent = await stream.stop();
    stream = undefined;
    expect(sent).toBeGreaterThan(1000);
    await expectReadModelToEqualTheTopic();
  }, 240_000);

  it('counts every record exactly once while members join and leave under load', async () => {
    stream = await streamEvents(topic.name, {
      batch: 100,
      everyMs: 20,
      domains: 300,
      maxEvents: 60000,
    });
    members.push(await spawnService('consumer', env));
    await underLoadFor(1000);
    members.push(await spawnService('consumer', env), await spawnService('consumer', env));
    await underLoadFor(1500);
    await members.shift()!.stop();
    await underLoadFor(1000);
    members.push(await spawnService('consumer', env));
    await underLoadFor(1000);
    await members.shift()!.stop();
    const sent = await stream.stop();
    stream = undefined;
    expect(sent).toBeGreaterThan(1000);
    await expectReadModelToEqualTheTopic();
  }, 240_000);
});
