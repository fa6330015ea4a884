import {
  checkKafkaAccess,
  checkPostgresAccess,
  createKafka,
  createLogger,
  ensureTopics,
  failureLine,
  kafkaConnection,
  loadConfig,
} from '@catchall/core';
import { setupConfigFields } from './config';
import { migrate } from './migrate';

/**
 * One-shot setup before the services start (compose's setup service, the Kubernetes Job,
 * `npm start`): read model migrations, then the topics.
 */
async function main(): Promise<void> {
  const config = loadConfig(setupConfigFields, process.env);
  const logger = createLogger({ name: 'setup', level: config.LOG_LEVEL });
  await checkPostgresAccess(config.DATABASE_URL, logger);
  await migrate({ databaseUrl: config.DATABASE_URL, logger });
  const kafka = createKafka({
    ...kafkaConnection(config),
    clientId: `${config.KAFKA_CLIENT_ID}-setup`,
    logger,
  });
  await checkKafkaAccess(kafka, logger);
  await ensureTopics({
    kafka,
    topic: config.EVENTS_TOPIC,
    partitions: config.EVENTS_TOPIC_PARTITIONS,
    replicationFactor: config.EVENTS_TOPIC_REPLICATION,
    logger,
  });
}

main().catch((err: unknown) => {
  console.error(failureLine(err));
  process.exit(1);
});
