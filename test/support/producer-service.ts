import {
  loadProducerConfig,
  startProducerService,
  type ProducerService,
} from '@catchall/producer-api';
import { testInfra } from './env';
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
  await service.schemaReady;
  return service;
}
