import {
  loadProducerConfig,
  startProducerService,
  type ProducerService,
} from '@catchall/producer-api';
import { testInfra } from './env';
import { createTestTopic, type TestTopic } from './kafka';
import { testLogger } from './logger';

/** The ingest API wired to the test broker and registry, its schema registered. */
export async function startTestProducer(
  topic: string,
  env: Record<string, string> = {},
): Promise<ProducerService> {
  const infra = testInfra();
  const config = loadProducerConfig({
    KAFKA_BROKERS: infra.brokers,
    SCHEMA_REGISTRY_URL: infra.registryUrl,
    EVENTS_TOPIC: topic,
    ...env,
  });
  const service = await startProducerService(config, testLogger('producer-api'));
  await service.ready;
  return service;
}

/**
 * For the enclosing describe block: a topic of its own and the ingest API on it, started
 * before its tests and stopped after them.
 */
export function useTestProducer(
  partitions: number,
  env: Record<string, string> = {},
): { topic: TestTopic; service: ProducerService } {
  const fixture = {} as { topic: TestTopic; service: ProducerService };
  beforeAll(async () => {
    fixture.topic = await createTestTopic(partitions);
    fixture.service = await startTestProducer(fixture.topic.name, env);
  });
  afterAll(async () => {
    await fixture.service.lifecycle.shutdown('test done');
    await fixture.topic.delete();
  });
  return fixture;
}
