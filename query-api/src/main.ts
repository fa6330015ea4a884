import { createLogger, serveInWorkers } from '@catchall/core';
import { loadQueryConfig } from './config';
import { startQueryService } from './service';

async function main(): Promise<void> {
  const config = loadQueryConfig(process.env);
  const logger = createLogger({ name: 'query-api', level: config.LOG_LEVEL });
  await serveInWorkers(config, logger, async () => startQueryService(config, logger));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
