import { Type } from '@sinclair/typebox';
import { configFields, loadConfig } from '@catchall/core';

export const queryConfigFields = {
  LOG_LEVEL: configFields.LOG_LEVEL,
  HOST: configFields.HOST,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3001, description: 'query API port' }),
  SHUTDOWN_TIMEOUT_MS: configFields.SHUTDOWN_TIMEOUT_MS,
  DATABASE_URL: configFields.DATABASE_URL,
  PG_POOL_MAX: configFields.PG_POOL_MAX,
  CATCH_ALL_THRESHOLD: configFields.CATCH_ALL_THRESHOLD,
  LOOKUP_MAX_DOMAINS: Type.Integer({
    minimum: 1,
    default: 1000,
    description: 'domains per POST /domains/lookup at most (413 beyond)',
  }),
};

export type QueryConfig = ReturnType<typeof loadQueryConfig>;

export function loadQueryConfig(env: Record<string, string | undefined>) {
  return loadConfig(queryConfigFields, env);
}
