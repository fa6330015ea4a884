import { checkPostgresAccess, createLogger, failureLine, serveInWorkers } from '@catchall/core';
import { loadQueryConfig } from './config';
import { startQueryService } from './service';

async function main(): Promise<void> {
  const config = loadQueryConfig(process.env);
  const logger = createLogger({ name: 'query-api', level: config.LOG_LEVEL });
  // Refused credentials or an untrusted certificate stop the start; unreachable does not.
  await checkPostgresAccess(config.DATABASE_URL, logger);
  await serveInWorkers(config, logger, async () => startQueryService(config, logger));
}

main().catch((err: unknown) => {
  console.error(failureLine(err));
  process.exit(1);
});
