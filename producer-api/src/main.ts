import { createLogger, failureLine, serveInWorkers } from '@catchall/core';
import { loadProducerConfig } from './config';
import { startProducerService } from './service';

async function main(): Promise<void> {
  const config = loadProducerConfig(process.env);
  const logger = createLogger({ name: 'producer-api', level: config.LOG_LEVEL });
  await serveInWorkers(config, logger, async () => startProducerService(config, logger));
}

main().catch((err: unknown) => {
  console.error(failureLine(err));
  process.exit(1);
});
