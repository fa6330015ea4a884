import { createLogger, failureLine, setHeapGrowingPercent } from '@catchall/core';
import { buildConsumer } from './app';
import { loadConsumerConfig } from './config';

async function main(): Promise<void> {
  const config = loadConsumerConfig(process.env);
  setHeapGrowingPercent(config.HEAP_GROWING_PERCENT);
  const logger = createLogger({ name: 'consumer', level: config.LOG_LEVEL });
  const { app, projector, lifecycle } = await buildConsumer(config, logger, (err) => {
    // Exit non-zero so that the orchestrator (or npm start) restarts the projector.
    void lifecycle
      .shutdown(`projector stopped: ${err instanceof Error ? err.message : String(err)}`)
      .finally(() => process.exit(1));
  });
  lifecycle.installSignalHandlers();
  await app.listen({ host: config.HOST, port: config.PORT });
  await projector.start();
  logger.info('consumer started');
}

main().catch((err: unknown) => {
  // Configuration and start-up failures end the process with the reason on stderr.
  console.error(failureLine(err));
  process.exit(1);
});
