/** Where the test runner (`npm test`) started the real broker, registry and Postgres. */
export interface TestInfra {
  brokers: string;
  registryUrl: string;
  postgresAdminUrl: string;
  kafkaLibs: string;
  java: string;
}

export function testInfra(): TestInfra {
  const env = process.env;
  const brokers = env.CATCHALL_TEST_KAFKA_BROKERS;
  const registryUrl = env.CATCHALL_TEST_REGISTRY_URL;
  const postgresAdminUrl = env.CATCHALL_TEST_POSTGRES_ADMIN_URL;
  if (!brokers || !registryUrl || !postgresAdminUrl) {
    throw new Error(
      'Integration tests need the local infrastructure: run them with `npm test` (or `npm test -- <pattern>`).',
    );
  }
  return {
    brokers,
    registryUrl,
    postgresAdminUrl,
    kafkaLibs: env.CATCHALL_TEST_KAFKA_LIBS ?? '',
    java: env.CATCHALL_TEST_JAVA ?? 'java',
  };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The projector's settings for a topic and database of a test's own (a fresh group). */
export function projectorEnv(topic: string, databaseUrl: string): Record<string, string> {
  const infra = testInfra();
  return {
    KAFKA_BROKERS: infra.brokers,
    SCHEMA_REGISTRY_URL: infra.registryUrl,
    DATABASE_URL: databaseUrl,
    EVENTS_TOPIC: topic,
    CONSUMER_GROUP: uniqueName('projector'),
  };
}
