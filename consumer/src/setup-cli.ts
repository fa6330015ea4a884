import {
  checkPostgresAccess,
  connectKafka,
  createLogger,
  ensureTopics,
  failureLine,
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
  const kafka = await connectKafka({ config, role: 'setup', logger });
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
