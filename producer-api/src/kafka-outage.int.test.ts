import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEventDecoder } from '@catchall/schemas';
import { startKafka, type RunningKafka } from '../../scripts/src/infra/kafka';
import { freePort } from '../../scripts/src/infra/ports';
import { testInfra } from '../../test/support/env';
import { createTestTopic, readAll } from '../../test/support/kafka';
import { testLogger } from '../../test/support/logger';
import { waitFor } from '../../test/support/wait';
import { loadProducerConfig } from './config';
import { startProducerService } from './service';

const infra = testInfra();

/** A broker of this test's own, so that stopping it does not disturb the other tests. */
async function ownBroker(
  dir: string,
  ports: { port: number; controllerPort: number },
): Promise<RunningKafka> {
  return startKafka({ dir, ...ports, heapMb: 384 });
}

describe('the ingest API while the Kafka broker goes down and comes back', () => {
  it('answers 2xx only for events that are in the topic, 5xx otherwise, and recovers by itself', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'catchall-outage-'));
    const ports = { port: await freePort(), controllerPort: await freePort() };
    let kafka = await ownBroker(dir, ports);
    const topic = await createTestTopic(3, kafka.brokers);
    const service = await startProducerService(
      loadProducerConfig({
        KAFKA_BROKERS: kafka.brokers,
        SCHEMA_REGISTRY_URL: infra.registryUrl,
        EVENTS_TOPIC: topic.name,
        PRODUCE_ACK_TIMEOUT_MS: '3000',
      }),
      testLogger('producer-api'),
    );
    await service.ready;
    const accepted: string[] = [];
    const refused: number[] = [];
    let sending = true;
    let n = 0;
    const client = async () => {
      while (sending) {
        const eventId = `outage-${(n += 1)}`;
        const response = await service.app.inject({
          method: 'PUT',
          url: `/events/d${n % 50}.example/delivered`,
          headers: { 'idempotency-key': eventId },
        });
        if (response.statusCode === 202) accepted.push(eventId);
        else {
          expect(response.statusCode).toBe(503);
          expect(response.headers['retry-after']).toBeDefined();
          refused.push(response.statusCode);
          // A client pauses after a 503 (it says Retry-After): refused at once while Kafka is
          // known unreachable, a loop of inject() calls without a pause never yields to the
          // event loop, and the service's own timers (its Kafka check) would never run.
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    };
    try {
      const clients = Array.from({ length: 8 }, client);
      await waitFor('some events accepted', () => accepted.length > 100);
      await kafka.stop();
      await waitFor('requests to be refused while the broker is down', () => refused.length > 0, {
        timeoutMs: 30000,
      });
      kafka = await ownBroker(dir, ports);
      const afterRestart = accepted.length;
      await waitFor(
        'the API to accept again by itself',
        () => accepted.length > afterRestart + 100,
        {
          timeoutMs: 60000,
        },
      );
      sending = false;
      await Promise.all(clients);

      const decoder = createEventDecoder({ registryUrl: infra.registryUrl });
      const stored = new Set<string>();
      for (const record of await readAll(topic.name, 30000, kafka.brokers)) {
        stored.add((await decoder.decode(record.message.value)).eventId);
      }
      const missing = accepted.filter((id) => !stored.has(id));
      expect(missing).toEqual([]);
      expect(refused.length).toBeGreaterThan(0);
    } finally {
      sending = false;
      await service.lifecycle.shutdown('test done');
      await kafka.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
