import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { createServiceApp, type Logger } from '@catchall/core';
import type { ProducerMetrics } from './metrics';
import type { Publisher } from './publisher';
import { registerEventRoutes } from './routes/events';
import type { SchemaRegistration } from './schema-registration';

export interface ProducerAppOptions {
  logger: Logger;
  registry: Registry;
  metrics: ProducerMetrics;
  publisher: Publisher;
  schema: SchemaRegistration;
}

/** The ingest API's routes over the shared service shell; does not listen. */
export function buildApp(options: ProducerAppOptions): FastifyInstance {
  const app = createServiceApp({
    logger: options.logger,
    metrics: options.registry,
    openapi: {
      title: 'Catch-all ingest API',
      description: 'Records delivery outcomes of mail domains as events in Kafka.',
      version: '0.1.0',
    },
    readiness: {
      schemaRegistry: () => options.schema.check(),
      kafka: async () => {
        if (options.publisher.failing()) throw new Error('the last produce request failed');
      },
    },
  });
  void app.register(async (api) => registerEventRoutes(api, options));
  return app;
}
