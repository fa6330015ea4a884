import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createIdempotentProducer } from '@catchall/core';
import { createEventDecoder } from '@catchall/schemas';
import { startKafka, type RunningKafka } from '../../scripts/src/infra/kafka';
import { freePort } from '../../scripts/src/infra/ports';
import { waitForLiveCatchUp } from '../support/catch-up';
import { projectorEnv, testInfra } from '../support/env';
import { abortHangingTransactions, inSkippedCommit } from '../support/hanging-transactions';
import { createTestTopic, readAll, testKafka } from '../support/kafka';
import { createTestDatabase, readModelCounts } from '../support/postgres';
import { replay } from '../support/replay-cli';
import { planStorm, runStorm, type StormEvent } from '../support/retry-storm';
import { seededRandom, seedFrom } from '../support/seeded-random';
import { superviseService, type SupervisedService } from '../support/supervised-service';

type Counts = Map<string, { delivered: number; bounced: number }>;

const STORM = { events: 3000, domains: 300, maxBatch: 40, durationMs: 25000 };

/** The counts a read model holding each distinct event once must show. */
function distinctCounts(events: StormEvent[]): Counts {
  const counts: Counts = new Map();
  for (const e of events) {
    const c = counts.get(e.domain) ?? { delivered: 0, bounced: 0 };
    c[e.type] += 1;
    counts.set(e.domain, c);
  }
  return counts;
}

/**
 * Empty when every domain's counts are equal; else a line with the totals and the first few
 * domains that differ (all are compared; 400 lines would hide the totals).
 */
function differences(expected: Counts, actual: Counts): string[] {
  const domains = new Set([...expected.keys(), ...actual.keys()]);
  const zero = { delivered: 0, bounced: 0 };
  const lines = [...domains]
    .sort()
    .filter(
      (d) => JSON.stringify(expected.get(d) ?? zero) !== JSON.stringify(actual.get(d) ?? zero),
    )
    .map(
      (d) =>
        `${d}: distinct events ${JSON.stringify(expected.get(d) ?? zero)}, read model ${JSON.stringify(actual.get(d) ?? zero)}`,
    );
  if (lines.length === 0) return [];
  const total = (m: Counts) => [...m.values()].reduce((n, c) => n + c.delivered + c.bounced, 0);
  return [
    `${lines.length} of ${domains.size} domains differ; read model ${total(actual)} events, distinct ${total(expected)}`,
    ...lines.slice(0, 20),
    ...(lines.length > 20 ? [`... and ${lines.length - 20} more`] : []),
  ];
}

/** How often the topic holds each event id, and the event each record carries. */
async function recordsPerEventId(
  topic: string,
  brokers: string,
): Promise<Map<string, StormEvent[]>> {
  const decoder = createEventDecoder({ registryUrl: testInfra().registryUrl });
  const stored = new Map<string, StormEvent[]>();
  for (const record of await readAll(topic, 60000, brokers)) {
    const { eventId, domain, type } = await decoder.decode(record.message.value);
    if (type === 'unknown') throw new Error(`record ${eventId} has no event type`);
    stored.set(eventId, [...(stored.get(eventId) ?? []), { eventId, domain, type }]);
  }
  return stored;
}

/**
 * The runbook for transactions a broker SIGKILL can leave open (README, "A hanging
 * transaction"): aborted, and the records of those whose commit was decided published again,
 * since their events were answered 2xx. Returns how many were aborted.
 */
async function settleTransactions(kafka: RunningKafka, topic: string): Promise<number> {
  const { aborted, skippedCommits } = await abortHangingTransactions(kafka, topic);
  if (skippedCommits.length > 0) {
    const records = (await readAll(topic, 60000, kafka.brokers, { readUncommitted: true })).filter(
      (r) => inSkippedCommit(r, skippedCommits),
    );
    const producer = createIdempotentProducer(testKafka(kafka.brokers));
    await producer.connect();
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: records.map((r) => ({ key: r.message.key, value: r.message.value })),
      });
    } finally {
      await producer.disconnect();
    }
  }
  return aborted.length;
}

describe('a retry storm through two ingest processes, the broker and the projector killed meanwhile', () => {
  /** Closes of what a test opened, run in reverse whether it passed or not. */
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const close of cleanups.splice(0).reverse()) await close();
  });

  it('counts every distinct event once per domain, live and after a replay rebuild', async () => {
    const seed = seedFrom(process.env, 'CATCHALL_TEST_STORM_SEED');
    try {
      const random = seededRandom(seed);
      const dir = mkdtempSync(path.join(os.tmpdir(), 'catchall-storm-'));
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      // A broker of this test's own, so that killing it disturbs no other test.
      const kafkaOptions = { dir, port: await freePort(), controllerPort: await freePort() };
      let kafka!: RunningKafka;
      const [, db] = await Promise.all([
        startKafka({ ...kafkaOptions, heapMb: 512 }).then((started) => {
          kafka = started;
          cleanups.push(() => kafka.stop());
        }),
        createTestDatabase().then((created) => {
          cleanups.push(() => created.drop());
          return created;
        }),
      ]);
      const topic = await createTestTopic(6, kafka.brokers);
      const env = {
        ...projectorEnv(topic.name, db.url),
        KAFKA_BROKERS: kafka.brokers,
        FLUSH_INTERVAL_MS: '100',
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        MIGRATE_ON_START: 'false',
        // Also the ingest transactions' timeout: one left open by the kill ends soon.
        PRODUCE_ACK_TIMEOUT_MS: '3000',
      };
      // Each process is started again when it exits on its own, as `npm start` does.
      const services: SupervisedService[] = [];
      cleanups.push(() => Promise.all(services.map((s) => s.stop())));
      const [ingestA, ingestB, projector] = await Promise.all([
        superviseService('producer-api', env),
        superviseService('producer-api', env),
        superviseService('consumer', env),
      ]);
      services.push(ingestA!, ingestB!, projector!);
      const ingest = [ingestA!, ingestB!];

      const plan = planStorm(random, {
        prefix: `storm${seed}`,
        events: STORM.events,
        domains: STORM.domains,
        instances: ingest.length,
        maxBatch: STORM.maxBatch,
      });
      // Drawn before the storm starts, so that the seed alone decides them.
      const brokerKillAt = (0.15 + random.next() * 0.35) * STORM.durationMs;
      const projectorKillAt = (0.1 + random.next() * 0.5) * STORM.durationMs;
      const requests = plan.slots.flat().length;
      const storm = runStorm(seededRandom(seed + 1), {
        urls: ingest.map((s) => s.url),
        slots: plan.slots,
        durationMs: STORM.durationMs,
        concurrency: 24,
        timeoutMs: [1000, 4000],
        giveUpAfterMs: 120000,
      });
      const at = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const completedAtKill: number[] = [];
      const faults = Promise.all([
        (async () => {
          await at(brokerKillAt);
          completedAtKill.push(storm.completed());
          process.kill(-kafka.process.pid, 'SIGKILL');
          await kafka.process.stop();
          kafka = await startKafka({ ...kafkaOptions, heapMb: 512 });
        })(),
        (async () => {
          await at(projectorKillAt);
          completedAtKill.push(storm.completed());
          await projector!.kill();
        })(),
      ]);
      // Awaited together: a fault that fails while the storm runs fails the test at once.
      const [outcome] = await Promise.all([storm.done, faults]);

      // The storm was what it claims: every event acknowledged in the end, faults inside it.
      expect(outcome.unexpected).toEqual([]);
      expect(outcome.acked.size).toBe(plan.events.length);
      for (const completed of completedAtKill) {
        expect(completed).toBeGreaterThan(0);
        expect(completed).toBeLessThan(requests);
      }
      const aborted = await settleTransactions(kafka, topic.name);

      // The topic holds every event, and some of them more than once: dedupe has work to do.
      const stored = await recordsPerEventId(topic.name, kafka.brokers);
      expect([...stored.keys()].sort()).toEqual(plan.events.map((e) => e.eventId).sort());
      const byId = new Map(plan.events.map((e) => [e.eventId, e]));
      const misfiled = [...stored.values()].flat().filter((r) => {
        const e = byId.get(r.eventId)!;
        return r.domain !== e.domain || r.type !== e.type;
      });
      expect(misfiled).toEqual([]);
      const duplicated = [...stored.values()].filter((records) => records.length > 1).length;
      expect(duplicated).toBeGreaterThan(0);
      console.log(
        `retry storm (seed ${seed}): ${plan.events.length} events in ${requests} requests, ` +
          `${plan.repeated} planned repeats (${plan.concurrent} side by side), ${outcome.tries} tries, ` +
          `failed tries ${JSON.stringify(Object.fromEntries(outcome.failedTries))}; ` +
          `${duplicated} events stored more than once; ${aborted} hanging transactions aborted; ` +
          `exits on their own, restarted: ${JSON.stringify(services.map((s) => s.unaskedExits))}`,
      );

      const expected = distinctCounts(plan.events);
      await waitForLiveCatchUp(db.pool, topic.name, kafka.brokers);
      expect(differences(expected, await readModelCounts(db.pool))).toEqual([]);

      // A replay rebuild from the same topic, made live, holds the same numbers.
      const rebuilt = await replay(env, 'rebuild', '--switch-lag', '0');
      expect(rebuilt).toMatchObject({
        code: 0,
        stdout: expect.stringMatching(/version 2 is live/),
      });
      await waitForLiveCatchUp(db.pool, topic.name, kafka.brokers);
      expect(differences(expected, await readModelCounts(db.pool))).toEqual([]);
    } catch (err) {
      if (err instanceof Error) {
        const replayWith = `[replay with CATCHALL_TEST_STORM_SEED=${seed}]`;
        err.message = `${replayWith} ${err.message}`;
        // The stack's first line is the message once it is read; prefix it if it was before.
        if (err.stack && !err.stack.includes(replayWith)) err.stack = `${replayWith} ${err.stack}`;
      }
      throw err;
    }
  }, 300_000);
});
