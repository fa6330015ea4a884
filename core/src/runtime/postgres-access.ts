import pg from 'pg';
import type { Logger } from 'pino';
import { AccessRefused, isTlsCode } from './kafka-access';

/**
 * Why a Postgres connection failed for good, when it did: credentials refused (SQLSTATE class
 * 28, invalid authorization) or a TLS handshake that failed on a certificate (sslmode
 * verify-full with a CA that did not sign the server's certificate, or a host it does not
 * cover). Undefined for anything else (a server not reachable yet). Never repeats
 * DATABASE_URL, which may hold the password.
 */
export function postgresAccessProblem(err: unknown): string | undefined {
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code !== 'string') return undefined;
  if (err instanceof pg.DatabaseError && code.startsWith('28')) {
    return `Postgres refused the credentials (SQLSTATE ${code}: ${String(message)}); check the user and password of DATABASE_URL`;
  }
  if (isTlsCode(code)) {
    return `Postgres TLS handshake failed (${code}: ${String(message)}); check the sslrootcert of DATABASE_URL (the CA that signed the server's certificate) and that its host is one the certificate covers`;
  }
  return undefined;
}

/**
 * Connects once to Postgres at start: refused credentials or an untrusted certificate become
 * an AccessRefused naming Postgres and the setting to check, so that the program stops with
 * the reason instead of failing each query. A server that is only unreachable passes: the
 * program reports it (readiness) and keeps trying, as before.
 */
export async function checkPostgresAccess(connectionString: string, logger: Logger): Promise<void> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5000 });
  // A connection that breaks after the check is not the check's concern; it is logged.
  client.on('error', (err) => logger.debug({ err }, 'the access check connection broke'));
  try {
    await client.connect();
  } catch (err) {
    const problem = postgresAccessProblem(err);
    if (problem) throw new AccessRefused(problem, { cause: err });
    // The error alone: pg's errors do not hold the connection string.
    logger.warn({ err }, 'Postgres not reachable yet; the program keeps trying');
  } finally {
    await client
      .end()
      .catch((err: unknown) => logger.debug({ err }, 'closing the access check client failed'));
  }
}
