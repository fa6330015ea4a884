import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEventDecoder } from '@catchall/schemas';
import { startKafka, type RunningKafka } from '../../scripts/src/infra/kafka';
import { freePort } from '../../scripts/src/infra/ports';
import { testInfra } from '../../test/support/env';
import {
  abortHangingTransactions,
  inSkippedCommit,
  type SkippedCommit,
} from '../../test/support/hanging-transactions';
import { createTestTopic, readAll } from '../../test/support/kafka';
import { testLogger } from '../../test/support/logger';
import { waitFor } from '../../test/support/wait';
import { loadProducerConfig } from './config';
import { startProducerService, type ProducerService } from './service';

const infra = testInfra();

/**
 * Per event id, how often the topic holds it committed: what read_committed readers read,
 * plus the records of `skippedCommits` (see abortHangingTransactions), read uncommitted.
 */
async function storedEventIds(
  topic: string,
  brokers: string,
  skippedCommits: SkippedCommit[] = [],
): Promise<Map<string, number>> {
  const decoder = createEventDecoder({ registryUrl: infra.registryUrl });
  const stored = new Map<string, number>();
  const count = async (value: Buffer | null) => {
    const { eventId } = await decoder.decode(value);
    stored.set(eventId, (stored.get(eventId) ?? 0) + 1);
  };
  for (const record of await readAll(topic, 60000, brokers)) await count(record.message.value);
  if (skippedCommits.length > 0) {
    const all = await readAll(topic, 60000, brokers, { readUncommitted: true });
    for (const record of all) {
      if (inSkippedCommit(record, skippedCommits)) await count(record.message.value);
    }
  }
  return stored;
}

function batchOf(prefix: string, size: number) {
  return Array.from({ length: size }, (_, i) => ({
    // Most on one domain (one partition), the rest spread: the batch spans partitions.
    domain: i % 10 === 0 ? `d${i}.${prefix}.example` : `one.${prefix}.example`,
    type: 'delivered' as const,
    eventId: `${prefix}-${i}`,
    source: 's'.repeat(200),
  }));
}

describe('a batch is stored whole or not at all', () => {
  it('stores a batch larger than the topic allows per produce request, over several requests', async () => {
    // 5,001 events of about 300 bytes: 1.5 MB, on a topic taking 64 KiB per record batch.
    const { name: topic } = await createTestTopic(3, infra.brokers, {
      'max.message.bytes': String(64 * 1024),
    });
    const service = await startProducerService(
      loadProducerConfig({
        KAFKA_BROKERS: infra.brokers,
        SCHEMA_REGISTRY_URL: infra.registryUrl,
        EVENTS_TOPIC: topic,
        PRODUCE_BATCH_MAX: '10000',
      }),
      testLogger('producer-api'),
    );
    try {
      await service.ready;
      const events = [
        ...Array.from({ length: 5000 }, (_, i) => ({
          domain: 'big.example',
          type: 'delivered' as const,
          eventId: `big-${i}`,
          source: 's'.repeat(200),
        })),
        { domain: 'other.example', type: 'bounced' as const, eventId: 'other-0' },
      ];
      const response = await service.app.inject({
        method: 'POST',
        url: '/events',
        headers: { prefer: 'return=minimal' },
        payload: events,
      });
      expect(response.statusCode).toBe(202);
      expect(response.json()).toEqual({
        accepted: 5001,
        consistencyToken: expect.stringMatching(/^events-[^:]+:\d+:\d+(,\d+:\d+)*$/) as string,
      });
      const stored = await storedEventIds(topic, infra.brokers);
      expect(events.filter((e) => stored.get(e.eventId) !== 1)).toEqual([]);
      expect(stored.size).toBe(5001);
    } finally {
      await service.lifecycle.shutdown('test done');
    }
  }, 120_000);

  it('never answers "nothing accepted" for a batch of which something is stored, across a broker SIGKILL', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'catchall-atomic-'));
    const ports = { port: await freePort(), controllerPort: await freePort() };
    let kafka: RunningKafka = await startKafka({ dir, ...ports, heapMb: 384 });
    // 16 KiB per record batch: each batch of 400 events (about 120 KB) takes 8 requests.
    const { name: topic } = await createTestTopic(6, kafka.brokers, {
      'max.message.bytes': String(16 * 1024),
    });
    let service: ProducerService | undefined;
    const answers: { prefix: string; size: number; status: number; code?: string }[] = [];
    let sending = true;
    try {
      service = await startProducerService(
        loadProducerConfig({
          KAFKA_BROKERS: kafka.brokers,
          SCHEMA_REGISTRY_URL: infra.registryUrl,
          EVENTS_TOPIC: topic,
          PRODUCE_ACK_TIMEOUT_MS: '3000',
        }),
        testLogger('producer-api'),
      );
      await service.ready;
      const app = service.app;
      let n = 0;
      const client = async (id: number) => {
        while (sending) {
          const prefix = `c${id}b${(n += 1)}`;
          const size = 400;
          const response = await app.inject({
            method: 'POST',
            url: '/events',
            headers: { prefer: 'return=minimal' },
            payload: batchOf(prefix, size),
          });
          const body = response.json() as { code?: string };
          answers.push({ prefix, size, status: response.statusCode, code: body.code });
          // A client pauses after a 503 (it says Retry-After): refused at once while Kafka is
          // known unreachable, a loop of inject() calls without a pause never yields to the
          // event loop, and the service's own timers (its Kafka check) would never run.
          if (response.statusCode === 503) await new Promise((r) => setTimeout(r, 10));
        }
      };
      const clients = [1, 2, 3, 4].map(client);
      await waitFor('some batches accepted', () => answers.some((a) => a.status === 202));
      // SIGKILL, not a clean stop: the broker dies between the produce requests of a batch.
      process.kill(-kafka.process.pid, 'SIGKILL');
      await kafka.process.stop();
      await waitFor('batches refused while the broker is down', () =>
        answers.some((a) => a.status === 503),
      );
      kafka = await startKafka({ dir, ...ports, heapMb: 384 });
      const afterRestart = answers.length;
      await waitFor(
        'batches accepted again after the restart',
        () => answers.slice(afterRestart).some((a) => a.status === 202),
        { timeoutMs: 90000 },
      );
      sending = false;
      await Promise.all(clients);
      // A known Kafka hazard, not this test's subject: reported by the projector as a stall.
      const { aborted, skippedCommits } = await abortHangingTransactions(kafka, topic);
      if (aborted.length > 0) {
        console.warn(
          `aborted ${aborted.length} hanging transaction(s) left by the kill, ` +
            `${skippedCommits.length} of them committed by their coordinator without a marker`,
        );
      }
      const stored = await storedEventIds(topic, kafka.brokers, skippedCommits);
      const outcomes = answers.map((a) => {
        let count = 0;
        for (let i = 0; i < a.size; i += 1) count += stored.get(`${a.prefix}-${i}`) ?? 0;
        return { ...a, stored: count };
      });
      // Whatever the answer, a batch is in the topic whole or not at all, and never twice.
      expect(outcomes.filter((o) => o.stored !== 0 && o.stored !== o.size)).toEqual([]);
      // 2xx: stored. "Nothing was accepted": nothing stored.
      expect(outcomes.filter((o) => o.status === 202 && o.stored !== o.size)).toEqual([]);
      const nothingAccepted = ['CATCHALL_UNAVAILABLE', 'CATCHALL_OVERLOADED'];
      expect(
        outcomes.filter((o) => nothingAccepted.includes(o.code ?? '') && o.stored > 0),
      ).toEqual([]);
      // Every other answer is one that says the outcome is unknown.
      const others = outcomes.filter(
        (o) => o.status !== 202 && !nothingAccepted.includes(o.code ?? ''),
      );
      for (const o of others)
        expect(['CATCHALL_TIMEOUT', 'CATCHALL_COMMIT_UNKNOWN']).toContain(o.code);
      expect(outcomes.filter((o) => o.status === 503).length).toBeGreaterThan(0);
    } finally {
      sending = false;
      await service?.lifecycle.shutdown('test done');
      await kafka.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
