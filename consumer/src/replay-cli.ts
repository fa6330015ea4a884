import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import {
  checkPostgresAccess,
  connectKafka,
  createLogger,
  createPool,
  failureLine,
  setHeapGrowingPercent,
  type Logger,
} from '@catchall/core';
import { connectRegistry, createEventDecoder } from '@catchall/schemas';
import { loadConsumerConfig, type ConsumerConfig } from './config';
import { migrate } from './migrate';
import { parseTime, TIME_FORMATS } from './time-option';
import {
  dropVersion,
  listVersions,
  switchLive,
  VersionError,
  type ReadModelVersion,
} from './read-model-version';
import { rebuild, RebuildRefused, type RebuildProgress } from './rebuild';
import { wholeNumber } from './dead-letter-selection';
import { UsageError } from './usage-error';

const USAGE = `Rebuilds the read model from the events topic, beside the live one.

usage: npm run replay -- <command> [options]    (or: node consumer/dist/replay-cli.js)

commands:
  rebuild             build a new read model version from the topic, then make it live
    --from-time TIME    start at the records at or after this time (default: the earliest);
                        TIME is ${TIME_FORMATS}
    --accept-truncated  rebuild even though retention deleted records from the topic
    --accept-dead-letters
                        switch even though records were dead-lettered for a reason that
                        may not last (a schema id the registry did not know); without it
                        such a rebuild ends ready, not live, with exit code 3
    --no-switch         only mark the version ready; switch later with \`switch\`
    --fresh             start a new version even if an unfinished rebuild could resume
    --threshold N       catch-all threshold of the new version (default CATCH_ALL_THRESHOLD)
    --switch-lag N      caught up at N records or fewer behind the topic (default 10000);
                        the switch then waits until the new version is at or past the
                        live one on every partition, so no answer goes backwards
  status              list the read model versions, which one is live, and the records
                      a rebuild left out for a reason that may not last
  switch VERSION      make a ready version live (a rollback is a switch back)
    --accept-dead-letters
                        make it live even though its rebuild left records out for a
                        reason that may not last (refused without, exit code 2)
  drop VERSION        delete a version that is not live

It reads the consumer's configuration (KAFKA_BROKERS, DATABASE_URL, EVENTS_TOPIC, ...).
Interrupted (Ctrl-C), a rebuild flushes what it has and stops; run it again to resume.`;

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'from-time': { type: 'string' },
      'accept-truncated': { type: 'boolean', default: false },
      'accept-dead-letters': { type: 'boolean', default: false },
      'no-switch': { type: 'boolean', default: false },
      fresh: { type: 'boolean', default: false },
      threshold: { type: 'string' },
      'switch-lag': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return { values, positionals };
}

/**
 * A whole-number option or argument in plain decimal digits (wholeNumber: `1e3`, `0x10`,
 * `5.0` or an empty text are a UsageError, as `Number()` would read them), `fallback` when
 * not given.
 */
function integer(name: string, text: string | undefined, fallback: number): number {
  return text === undefined ? fallback : wholeNumber(name, text);
}

function formatDuration(seconds: number | null): string {
  if (seconds === null) return 'unknown (not gaining on the topic)';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A progress bar on a terminal; a log line every 5 seconds otherwise. */
function progressReporter(logger: Logger): {
  update(p: RebuildProgress): void;
  stop(): void;
} {
  if (process.stderr.isTTY) {
    const bar = new SingleBar({
      stream: process.stderr,
      format:
        'version {version} [{bar}] {percentage}% | {value}/{total} events | {rate} events/s | lag {lag} | left {left}',
      barsize: 30,
      hideCursor: true,
    });
    let started = false;
    return {
      update(p) {
        const payload = {
          version: p.version,
          rate: Math.round(p.eventsPerSecond).toLocaleString('en-US'),
          lag: p.lag.toLocaleString('en-US'),
          left: formatDuration(p.secondsLeft),
        };
        if (!started) {
          bar.start(Math.max(p.total, 1), p.applied, payload);
          started = true;
        } else {
          bar.setTotal(Math.max(p.total, 1));
          bar.update(p.applied, payload);
        }
      },
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update(p) {
      if (Date.now() - last < 5000 && p.lag > 0) return;
      last = Date.now();
      logger.info(
        {
          version: p.version,
          applied: p.applied,
          total: p.total,
          lag: p.lag,
          eventsPerSecond: Math.round(p.eventsPerSecond),
          secondsLeft: p.secondsLeft === null ? null : Math.round(p.secondsLeft),
        },
        'rebuild progress',
      );
    },
    stop: () => undefined,
  };
}

function printVersions(versions: ReadModelVersion[]): void {
  const rows = versions.map((v) => ({
    version: v.version,
    live: v.live ? 'live' : '',
    state: v.state,
    threshold: v.threshold ?? '',
    domains: v.rows ?? '',
    'started from': v.startedFrom ?? '',
    created: v.createdAt.toISOString(),
    ready: v.readyAt?.toISOString() ?? '',
    'left out': v.leftOut === null ? '' : JSON.stringify(v.leftOut),
  }));
  console.table(rows);
}

async function runRebuild(
  config: ConsumerConfig,
  logger: Logger,
  values: ReturnType<typeof parse>['values'],
): Promise<void> {
  const fromTime =
    values['from-time'] === undefined
      ? undefined
      : new Date(parseTime('--from-time', values['from-time']));
  // A rebuild folds as the projector does: the same bound on its heap.
  setHeapGrowingPercent(config.HEAP_GROWING_PERCENT);
  const pool = createPool({
    connectionString: config.DATABASE_URL,
    max: config.PG_POOL_MAX,
    logger,
    applicationName: 'catchall-rebuild',
  });
  const controller = new AbortController();
  const onSignal = () => {
    logger.info('interrupted: flushing and stopping; run the same command again to resume');
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = progressReporter(logger);
  try {
    const kafka = await connectKafka({ config, role: 'rebuild', logger });
    const registryAccess = await connectRegistry(config);
    const result = await rebuild({
      pool,
      kafka,
      codec: createEventDecoder({
        ...registryAccess,
        unknownSchemaRetryMs: config.SCHEMA_UNKNOWN_RETRY_MS,
      }),
      topic: config.EVENTS_TOPIC,
      consumerGroup: config.CONSUMER_GROUP,
      threshold: integer('--threshold', values.threshold, config.CATCH_ALL_THRESHOLD),
      dedupeWindowMs: config.DEDUPE_WINDOW_S * 1000,
      fromTime,
      acceptTruncated: values['accept-truncated'],
      acceptTransientDeadLetters: values['accept-dead-letters'],
      partitionStallMs: config.PARTITION_STALL_MS,
      fresh: values.fresh,
      switchWhenReady: !values['no-switch'],
      switchLag: integer('--switch-lag', values['switch-lag'], 10000),
      flushIntervalMs: config.FLUSH_INTERVAL_MS,
      maxPendingDomains: config.FLUSH_MAX_DOMAINS,
      partitionsConsumedConcurrently: config.PARTITIONS_CONCURRENCY,
      sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
      fetchMaxBytes: config.KAFKA_FETCH_MAX_BYTES,
      maxPartitionFetchBytes: config.KAFKA_MAX_PARTITION_FETCH_BYTES,
      logger,
      onProgress: (p) => progress.update(p),
      signal: controller.signal,
    });
    progress.stop();
    const messages = {
      switched: `version ${result.version} is live (was ${result.previous}); roll back with: npm run replay -- switch ${result.previous}`,
      ready: `version ${result.version} is ready; make it live with: npm run replay -- switch ${result.version}`,
      interrupted: `version ${result.version} is not finished; run the same command again to resume`,
    };
    if (result.transientDeadLetters) {
      console.log(
        `not switched: records were left out for a reason that may not last (${JSON.stringify(result.transientDeadLetters)}); ` +
          'check the schema registry, then rebuild again (with --accept-dead-letters to switch anyway)',
      );
      // Not the outcome asked for: scripts see it in the exit code.
      process.exitCode = 3;
    } else {
      console.log(messages[result.outcome]);
    }
    if (result.outcome === 'interrupted') process.exitCode = 130;
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await pool.end();
  }
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  const [command, argument] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    if (!values.help) process.exitCode = 2;
    return;
  }
  if (!['rebuild', 'status', 'switch', 'drop'].includes(command)) {
    throw new UsageError(`unknown command "${command}"`);
  }
  const config = loadConsumerConfig(process.env);
  // Log lines go to stderr, so that `status` output stays clean on stdout. On a terminal,
  // the progress bar speaks for the rebuild: only warnings are logged unless LOG_LEVEL says.
  const level =
    process.stderr.isTTY && process.env.LOG_LEVEL === undefined ? 'warn' : config.LOG_LEVEL;
  const logger = createLogger({ name: 'replay', level, destination: 2 });
  await checkPostgresAccess(config.DATABASE_URL, logger);
  await migrate({ databaseUrl: config.DATABASE_URL, logger });
  if (command === 'rebuild') return runRebuild(config, logger, values);

  const pool = createPool({
    connectionString: config.DATABASE_URL,
    max: 2,
    logger,
    applicationName: 'catchall-replay',
  });
  try {
    if (command === 'status') return printVersions(await listVersions(pool, { countRows: true }));
    const version = integer('VERSION', argument, -1);
    if (version < 1) throw new UsageError(`${command} needs a version number (see \`status\`)`);
    if (command === 'switch') {
      const { from, to } = (await switchLive(pool, version, {
        acceptLeftOut: values['accept-dead-letters'],
      }))!;
      console.log(`version ${to} is live (was ${from})`);
    } else {
      await dropVersion(pool, version);
      console.log(`version ${version} dropped`);
    }
  } finally {
    await pool.end();
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const known =
    err instanceof UsageError || err instanceof VersionError || err instanceof RebuildRefused;
  console.error(failureLine(err));
  if (err instanceof UsageError) console.error('\n' + USAGE);
  process.exit(known ? 2 : 1);
});
