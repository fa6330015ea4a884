import { createKafka, createLogger, ensureTopics, loadConfig } from '@catchall/core';
import { setupConfigFields } from './config';
import { migrate } from './migrate';

/**
 * One-shot setup before the services start (compose's setup service, the Kubernetes Job,
 * `npm start`): read model migrations, then the topics.
 */
async function main(): Promise<void> {
  const config = loadConfig(setupConfigFields, process.env);
  const logger = createLogger({ name: 'setup', level: config.LOG_LEVEL });
  await migrate({ databaseUrl: config.DATABASE_URL, logger });
  await ensureTopics({
    kafka: createKafka({
      brokers: config.KAFKA_BROKERS,
      clientId: `${config.KAFKA_CLIENT_ID}-setup`,
      logger,
    }),
    topic: config.EVENTS_TOPIC,
    partitions: config.EVENTS_TOPIC_PARTITIONS,
    replicationFactor: config.EVENTS_TOPIC_REPLICATION,
    logger,
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
