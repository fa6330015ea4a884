import type { TProperties } from '@sinclair/typebox';
import { consumerConfigFields, setupConfigFields } from '@catchall/consumer';
import { producerConfigFields } from '@catchall/producer-api';
import { queryConfigFields } from '@catchall/query-api';

/** The variables each program of the image reads: the keys of its configuration schema. */
export const configOf: Record<string, TProperties> = {
  'producer-api': producerConfigFields,
  consumer: consumerConfigFields,
  'query-api': queryConfigFields,
  setup: setupConfigFields,
};

/** Which program a container of the image runs, from its entry point (see the Dockerfile). */
export const programOf: Record<string, string> = {
  'producer-api/dist/main.js': 'producer-api',
  'consumer/dist/main.js': 'consumer',
  'query-api/dist/main.js': 'query-api',
  'consumer/dist/setup-cli.js': 'setup',
};
