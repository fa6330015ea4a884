import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Credentials } from './kafka';

/** The credentials a test run's secured parts accept, made fresh for each run. */
export interface SecuredSecrets {
  /** Kafka SASL/PLAIN. */
  plainUser: Credentials;
  /** Kafka SASL/SCRAM, for both SCRAM-SHA-256 and SCRAM-SHA-512. */
  scramUser: Credentials;
  /** A file holding an unsecured JWT (alg none, `sub` oauth-user) for Kafka's OAUTHBEARER. */
  oauthTokenFile: string;
  /** HTTP basic auth of the registry's proxy. */
  registryUser: Credentials;
  /** Bearer token of the registry's proxy. */
  registryToken: string;
}

/** Random and distinctive, so a test that greps logs for secrets finds only real leaks. */
function secret(label: string): string {
  return `${label}-${randomBytes(12).toString('hex')}`;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/**
 * An unsecured JWS (RFC 7515 with alg "none": an empty signature after the last dot), as
 * Kafka's OAuthBearerUnsecuredValidatorCallbackHandler accepts: it requires `sub` (the
 * principal), and `exp` bounds the session, so it is a day away.
 */
export function unsecuredJwt(subject: string, now = Date.now()): string {
  const iat = Math.floor(now / 1000);
  return `${base64url({ alg: 'none' })}.${base64url({ sub: subject, iat, exp: iat + 86400 })}.`;
}

/** Makes the run's credentials; the OAUTHBEARER token is written into `dir` (0600). */
export function securedSecrets(dir: string): SecuredSecrets {
  const oauthTokenFile = path.join(dir, 'oauthbearer.jwt');
  writeFileSync(oauthTokenFile, unsecuredJwt('oauth-user'), { mode: 0o600 });
  return {
    plainUser: { username: 'plain-user', password: secret('plain-password') },
    scramUser: { username: 'scram-user', password: secret('scram-password') },
    oauthTokenFile,
    registryUser: { username: 'registry-user', password: secret('registry-password') },
    registryToken: secret('registry-token'),
  };
}
