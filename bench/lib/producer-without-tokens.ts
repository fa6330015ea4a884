/**
 * The ingest API's entry point (producer-api/src/main.ts) with consistency tokens turned off
 * through buildApp's internal option: bench:ingest runs the same loads on it to measure what
 * the tokens cost. Not a configuration: production answers always carry a token.
 */
import { createLogger, failureLine, serveInWorkers } from '@catchall/core';
import { loadProducerConfig, startProducerService } from '@catchall/producer-api';

async function main(): Promise<void> {
  const config = loadProducerConfig(process.env);
  const logger = createLogger({ name: 'producer-api', level: config.LOG_LEVEL });
  await serveInWorkers(config, logger, async () =>
    startProducerService(config, logger, { consistencyTokens: false }),
  );
}

main().catch((err: unknown) => {
  console.error(failureLine(err));
  process.exit(1);
});
