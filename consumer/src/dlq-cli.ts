import { SingleBar } from 'cli-progress';
import {
  checkPostgresAccess,
  connectKafka,
  createLogger,
  createPool,
  deadLetterTopic,
  asKafkaUnreachable,
  type Logger,
} from '@catchall/core';
import type { Kafka } from 'kafkajs';
import { connectRegistry, createEventDecoder, type EventDecoder } from '@catchall/schemas';
import { loadDlqConfig, type ConsumerConfig } from './config';
import {
  listCommand,
  showCommand,
  summaryCommand,
  type DeadLetterTools,
  type Progress,
} from './dead-letter-commands';
import { redriveCommand } from './redrive-command';
import { parseDlqArgs, USAGE } from './dlq-args';
import type { Selection } from './dead-letter-selection';
import { checkSchemaCurrent } from './migrate';
import { createTopicSource, missingTopics } from './topic-reader';
import { checkTopicsExist, topicsOf } from './dlq-topics';
import { dlqFailure } from './dlq-exit';

/** A bar on stderr on a terminal; otherwise a log line every 5 s and at the end. */
function progressDisplay(logger: Logger): Progress {
  if (process.stderr.isTTY) {
    let bar: SingleBar | undefined;
    return {
      start(what, total) {
        bar = new SingleBar({
          stream: process.stderr,
          format: `${what} [{bar}] {percentage}% | {value}/{total}`,
          barsize: 30,
          hideCursor: true,
        });
        bar.start(Math.max(total, 1), 0);
      },
      update: (done) => bar?.update(done),
      stop() {
        bar?.stop();
        bar = undefined;
      },
    };
  }
  let task = '';
  let of = 0;
  let last = 0;
  let done = 0;
  return {
    start(what, total) {
      [task, of, last, done] = [what, total, Date.now(), 0];
    },
    update(n) {
      done = n;
      if (Date.now() - last < 5000) return;
      last = Date.now();
      logger.info({ task, done, total: of }, 'progress');
    },
    stop: () => logger.info({ task, done, total: of }, 'progress'),
  };
}

/** Prints one item: a JSON line when `json`, indented JSON on a terminal otherwise. */
function printOne(json: boolean, item: unknown): void {
  console.log(json ? JSON.stringify(item) : JSON.stringify(item, null, 2));
}

/**
 * `redrive`: the one command that needs Postgres, and only to read the live version's redrive
 * ledger. It does not migrate: a schema change is the projector's or setup's to make, and
 * one made from here could reach a database whose running projector is older; a schema
 * behind this build is a SchemaBehind failure that says what to run.
 */
async function redrive(
  tools: DeadLetterTools,
  codec: EventDecoder,
  config: ConsumerConfig,
  args: {
    selection: Selection;
    maxRedrives: number;
    dryRun: boolean;
    evenIfFailing: boolean;
    json: boolean;
  },
): Promise<void> {
  const { json, dryRun } = args;
  // Redrive runs once and does not keep trying: an unreachable Postgres ends it, said so.
  await checkPostgresAccess(config.DATABASE_URL, tools.logger, { mustAnswer: true });
  const pool = createPool({
    connectionString: config.DATABASE_URL,
    max: 2,
    logger: tools.logger,
    applicationName: 'catchall-dlq',
  });
  try {
    await checkSchemaCurrent(pool, 'npm run dlq -- redrive');
    // Each line as soon as it is known (a sent one once Kafka acknowledged it): a run killed
    // half-way has said what went out.
    const result = await redriveCommand(tools, { codec, pool }, args.selection, {
      maxRedrives: args.maxRedrives,
      dryRun,
      evenIfFailing: args.evenIfFailing,
      onLine: (line) => printOne(json, line),
    });
    const totals = { sent: result.sent, skipped: result.skipped, refused: result.refused, dryRun };
    if (json) console.error(JSON.stringify({ msg: 'redrive done', ...totals }));
    else
      console.error(
        `redriven ${totals.sent}, skipped ${totals.skipped}, refused ${totals.refused}${dryRun ? ' (dry run: nothing written)' : ''}`,
      );
    for (const line of result.lines) {
      if (line.action === 'refused') console.error(`${line.code}: ${line.why}`);
    }
    if (result.refused > 0) process.exitCode = 3;
  } finally {
    await pool.end();
  }
}

/**
 * Each command connects to what it reads and nothing else: summary and list to Kafka, show
 * to Kafka and the registry, redrive to those and Postgres.
 */
async function run(argv: string[]): Promise<void> {
  const args = parseDlqArgs(argv);
  if (args.help) {
    console.log(USAGE);
    if (!args.helpAsked) process.exitCode = 2;
    return;
  }
  const json = args.json || !process.stdout.isTTY;
  const config: ConsumerConfig = loadDlqConfig(process.env, args.command);
  // Logs go to stderr so that stdout holds only the output.
  const level =
    process.stderr.isTTY && process.env.LOG_LEVEL === undefined ? 'warn' : config.LOG_LEVEL;
  const logger = createLogger({ name: 'dlq', level, destination: 2 });
  const kafka = await connectKafka({
    config,
    role: 'dlq',
    logger,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5000 },
    ...KAFKA_WAIT,
  });
  try {
    await runCommand(args, { kafka, config, logger, json });
  } catch (err) {
    throw asKafkaUnreachable(err, config.KAFKA_BROKERS);
  }
}

/**
 * How long the tools wait on Kafka (README, "Dead-letter tools"): a connection 3 s, a request
 * 15 s, the first contact 15 s in all (retries included); then a KafkaUnreachable naming the
 * brokers, exit code 1, rather than a minute of waiting and kafkajs's bare message.
 */
const KAFKA_WAIT = {
  connectionTimeoutMs: 3_000,
  requestTimeoutMs: 15_000,
  reachableWithinMs: 15_000,
} as const;

async function runCommand(
  args: Extract<ReturnType<typeof parseDlqArgs>, { help: false }>,
  {
    kafka,
    config,
    logger,
    json,
  }: { kafka: Kafka; config: ConsumerConfig; logger: Logger; json: boolean },
): Promise<void> {
  // Before any read: a topic that does not exist is a configuration to fix, said at once.
  checkTopicsExist(await missingTopics(kafka, topicsOf(args.command, config.EVENTS_TOPIC)), config);
  const tools: DeadLetterTools = {
    kafka,
    deadLetters: createTopicSource(kafka, deadLetterTopic(config.EVENTS_TOPIC)),
    eventsTopic: config.EVENTS_TOPIC,
    logger,
    progress: progressDisplay(logger),
  };
  if (args.command === 'summary')
    return printOne(json, await summaryCommand(tools, args.selection));
  if (args.command === 'list') {
    // Each line as it comes: list holds no more than --limit entries per partition.
    await listCommand(tools, args.selection, (entry) => printOne(json, entry));
    return;
  }
  const registryAccess = await connectRegistry(config);
  // No wait on a schema id the registry does not know: the answer is what it knows now.
  const codec = createEventDecoder({ ...registryAccess, unknownSchemaRetryMs: 0 });
  if (args.command === 'show') return printOne(json, await showCommand(tools, codec, args.at));
  await redrive(tools, codec, config, { ...args, json });
}

run(process.argv.slice(2)).catch((err: unknown) => {
  const failure = dlqFailure(err, USAGE);
  console.error(failure.stderr);
  process.exit(failure.exitCode);
});
