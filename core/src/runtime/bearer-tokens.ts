import bearerAuth from '@fastify/bearer-auth';
import type { FastifyInstance } from 'fastify';
import { errors } from './errors';
import { errorBody } from './http-errors';

/** The name of the OpenAPI security scheme of the APIs' bearer tokens. */
export const BEARER_SCHEME = 'bearerToken';

/** A route's OpenAPI `security` when its API checks tokens: none otherwise. */
export function bearerSecurity(on: boolean): { security?: Record<string, string[]>[] } {
  return on ? { security: [{ [BEARER_SCHEME]: [] }] } : {};
}

/** The OpenAPI security scheme: `Authorization: Bearer <token>`. */
export const bearerSecurityScheme = {
  [BEARER_SCHEME]: {
    type: 'http',
    scheme: 'bearer',
    description: 'one of the tokens the service is configured with',
  },
} as const;

/**
 * Requires `Authorization: Bearer <token>` with one of `tokens` on every route of `api` (a
 * fastify context: the health, readiness, metrics and OpenAPI routes stay outside it). A
 * missing or unknown token is 401 CATCHALL_UNAUTHORIZED with the JSON body of every error.
 * @fastify/bearer-auth compares tokens in constant time. Empty `tokens`: nothing is checked.
 */
export async function requireBearerTokens(api: FastifyInstance, tokens: string[]): Promise<void> {
  if (tokens.length === 0) return;
  await api.register(bearerAuth, {
    keys: tokens,
    addHook: 'onRequest',
    errorResponse: () => errorBody(errors.unauthorized()),
  });
}
