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

/** The protection space every 401 names (RFC 9110 section 11.5): one for both APIs. */
export const BEARER_REALM = 'catch-all';

/**
 * The token of an `Authorization: Bearer <token>` header as the check reads it: the scheme
 * name in any case (RFC 9110 section 11.1), the token without surrounding spaces. Undefined
 * for no header or another scheme. One client's token is one rate-limit key however it is
 * spelled.
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  return /^bearer (.*)$/i.exec(authorization)?.[1]?.trim();
}

/**
 * The `WWW-Authenticate` challenge of a 401 (RFC 6750 section 3): the scheme and realm, plus
 * `error="invalid_token"` when the request sent a Bearer token that is not accepted. A request
 * without credentials, or with another scheme, gets no error code (section 3.1).
 */
export function bearerChallenge(authorization: string | undefined): string {
  const challenge = `Bearer realm="${BEARER_REALM}"`;
  const sentToken = (bearerToken(authorization) ?? '') !== '';
  return sentToken ? `${challenge}, error="invalid_token"` : challenge;
}

/**
 * Requires `Authorization: Bearer <token>` with one of `tokens` on every route of `api` (a
 * fastify context: the health, readiness, metrics and OpenAPI routes stay outside it). A
 * missing or unknown token is 401 CATCHALL_UNAUTHORIZED with the JSON body of every error and
 * a `WWW-Authenticate` challenge. The scheme name is matched in any case (RFC 9110 section
 * 11.1). @fastify/bearer-auth compares tokens in constant time. Empty `tokens`: nothing is
 * checked.
 */
export async function requireBearerTokens(api: FastifyInstance, tokens: string[]): Promise<void> {
  if (tokens.length === 0) return;
  // Without its own hook the plugin only decorates `api` with its check, and the refusal is
  // answered here: the plugin's own answer cannot carry a header. Its 'rfc6749' mode is the
  // one that compares the scheme name without regard to case.
  await api.register(bearerAuth, { keys: tokens, addHook: false, specCompliance: 'rfc6749' });
  const verify = api.verifyBearerAuth!;
  api.addHook('onRequest', (request, reply, done) => {
    verify(request, reply, (err) => {
      // The plugin's refusals are 401; anything else is a failure for the error handler.
      if (err === undefined || (err as { statusCode?: number }).statusCode !== 401) {
        done(err);
        return;
      }
      void reply
        .code(401)
        .header('www-authenticate', bearerChallenge(request.headers.authorization))
        .send(errorBody(errors.unauthorized()));
    });
  });
}
