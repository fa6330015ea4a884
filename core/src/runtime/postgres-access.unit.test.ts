import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TLSSocket } from 'node:tls';
import pg from 'pg';
import pino from 'pino';
import { errorCatalogue } from '../domain/error-catalogue';
import { checkPostgresAccess, postgresAccessProblem } from './postgres-access';
import {
  createTestCertificates,
  type TestCertificates,
} from '../../../scripts/src/infra/certificates';
import { closedPort } from '../../../test/support/closed-port';

const silent = pino({ level: 'silent' });

describe('postgresAccessProblem', () => {
  it('names Postgres and DATABASE_URL when the password is refused (SQLSTATE 28P01)', () => {
    const refused = Object.assign(
      new pg.DatabaseError('password authentication failed for user "app"', 0, 'error'),
      { code: '28P01' },
    );
    expect(postgresAccessProblem(refused)).toBe(
      'Postgres refused the credentials (SQLSTATE 28P01: password authentication failed for user "app"); check the user and password of DATABASE_URL',
    );
  });

  it('leaves a server that is only unreachable, or a failing query, to the callers', () => {
    const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    expect(postgresAccessProblem(down)).toBeUndefined();
    const missing = Object.assign(new pg.DatabaseError('no table', 0, 'error'), {
      code: '42P01',
    });
    expect(postgresAccessProblem(missing)).toBeUndefined();
  });
});

/**
 * A loopback server that answers Postgres's SSLRequest with "S" and then a TLS handshake
 * with a self-signed certificate for 127.0.0.1: enough for the client's verify-full check,
 * which must refuse it when DATABASE_URL's sslrootcert names another CA.
 */
describe('checkPostgresAccess against a TLS server the CA did not sign', () => {
  let dir: string;
  let server: Server;
  let port: number;
  let certificates: TestCertificates;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'catchall-pg-tls-'));
    certificates = await createTestCertificates(dir);
    server = createServer((socket) => {
      sockets.add(socket);
      socket.once('data', () => {
        socket.write('S');
        const tls = new TLSSocket(socket, {
          isServer: true,
          key: readFileSync(certificates.serverKeyFile),
          cert: readFileSync(certificates.serverCertFile),
        });
        tls.on('error', () => undefined);
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops with CATCHALL_ACCESS_REFUSED naming Postgres and sslrootcert, never the password', async () => {
    const url = `postgres://app:Pg-Secret-99@127.0.0.1:${port}/catchall?sslmode=verify-full&sslrootcert=${certificates.untrustedCaFile}`;
    const check = checkPostgresAccess(url, silent);
    await expect(check).rejects.toMatchObject({
      code: errorCatalogue.accessRefused.code,
      retriable: false,
    });
    await expect(check).rejects.toThrow(/^Postgres TLS handshake failed \(.*sslrootcert/);
    await expect(check).rejects.not.toThrow(/Pg-Secret-99/);
  });
});

describe('checkPostgresAccess of a server that does not answer', () => {
  const recording = () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const warned = () =>
      lines
        .map((l) => JSON.parse(l) as { level: number; msg: string })
        .filter((l) => l.level >= 40);
    return { logger, warned };
  };

  it('passes, saying the program keeps trying, for a service that does', async () => {
    const { logger, warned } = recording();
    const url = `postgres://app:Pg-Pa55@127.0.0.1:${await closedPort()}/catchall`;
    await checkPostgresAccess(url, logger);
    expect(warned().map((l) => l.msg)).toEqual([
      'Postgres not reachable yet; the program keeps trying',
    ]);
  });

  it('with mustAnswer, stops with CATCHALL_POSTGRES_UNAVAILABLE at once and logs no promise to keep trying', async () => {
    const { logger, warned } = recording();
    const port = await closedPort();
    const url = `postgres://app:Pg-Pa55@127.0.0.1:${port}/catchall`;
    const err = (await checkPostgresAccess(url, logger, { mustAnswer: true }).catch(
      (e: unknown) => e,
    )) as Error & { code: string; retriable: boolean };
    expect(err).toMatchObject({
      code: errorCatalogue.postgresUnavailable.code,
      retriable: true,
    });
    expect(err.message).toBe(
      `Postgres could not be reached (connect ECONNREFUSED 127.0.0.1:${port}); check the host and port of DATABASE_URL and that the server runs, then run again`,
    );
    expect(err.message).not.toContain('Pg-Pa55');
    expect(warned()).toEqual([]);
  });
});
