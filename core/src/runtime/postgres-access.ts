import pg from 'pg';
import type { Logger } from 'pino';
import { errorCatalogue } from '../domain/error-catalogue';
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
 * Postgres could not be reached by a program that runs once and cannot wait for it (the
 * dead-letter tools' redrive): the message names what to check, never DATABASE_URL itself.
 * Retriable: run again once Postgres answers.
 */
export class PostgresUnreachable extends Error {
  readonly code = errorCatalogue.postgresUnavailable.code;
  readonly retriable = errorCatalogue.postgresUnavailable.retriable;
}

/**
 * Connects once to Postgres at start: refused credentials or an untrusted certificate become
 * an AccessRefused naming Postgres and the setting to check, so that the program stops with
 * the reason instead of failing each query. A server that is only unreachable passes: the
 * program reports it (readiness) and keeps trying, as before; with `mustAnswer` (a program
 * that runs once and does not keep trying), it is a PostgresUnreachable instead, and nothing
 * is logged.
 */
export async function checkPostgresAccess(
  connectionString: string,
  logger: Logger,
  options: { mustAnswer?: boolean } = {},
): Promise<void> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5000 });
  // A connection that breaks after the check is not the check's concern; it is logged.
  client.on('error', (err) => logger.debug({ err }, 'the access check connection broke'));
  try {
    await client.connect();
  } catch (err) {
    const problem = postgresAccessProblem(err);
    if (problem) throw new AccessRefused(problem, { cause: err });
    // The error alone: pg's errors do not hold the connection string.
    if (options.mustAnswer) {
      throw new PostgresUnreachable(
        `Postgres could not be reached (${(err as Error).message}); check the host and port of DATABASE_URL and that the server runs, then run again`,
        { cause: err },
      );
    }
    logger.warn({ err }, 'Postgres not reachable yet; the program keeps trying');
  } finally {
    await client
      .end()
      .catch((err: unknown) => logger.debug({ err }, 'closing the access check client failed'));
  }
}
