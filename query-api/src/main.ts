import { createLogger } from '@catchall/core';
import { loadQueryConfig } from './config';
import { startQueryService } from './service';

async function main(): Promise<void> {
  const config = loadQueryConfig(process.env);
  const logger = createLogger({ name: 'query-api', level: config.LOG_LEVEL });
  const { app, lifecycle } = startQueryService(config, logger);
  lifecycle.installSignalHandlers();
  await app.listen({ host: config.HOST, port: config.PORT });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
