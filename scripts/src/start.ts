import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import {
  INGEST_NODE_OPTIONS,
  configFields,
  createKafka,
  ensureTopics,
  loadConfig,
  secret,
  withNodeOptions,
} from '@catchall/core';
import { migrate } from '@catchall/consumer';
import { Type } from '@sinclair/typebox';
import { startInfra, type Infra } from './infra';
import { localDir, REPO_ROOT } from './infra/paths';
import {
  prometheusBannerNow,
  startLocalPrometheus,
  type LocalPrometheus,
} from './local-prometheus';
import { serviceEnv } from './service-env';
import { pipeServiceLogs, terminalLogger } from './service-logs';

const port = (value: number, description: string) =>
  Type.Integer({ minimum: 1, maximum: 65535, default: value, description });

/** Ports of `npm start`, each overridable; everything binds to 127.0.0.1. */
const startConfigFields = {
  LOG_LEVEL: configFields.LOG_LEVEL,
  DATABASE_URL: Type.Optional(
    secret(Type.String({ description: 'use this Postgres instead of starting one' })),
  ),
  CATCHALL_KAFKA_PORT: port(9092, 'Kafka broker listener'),
  CATCHALL_KAFKA_CONTROLLER_PORT: port(9093, 'KRaft controller listener'),
  CATCHALL_REGISTRY_PORT: port(8081, 'schema registry'),
  CATCHALL_POSTGRES_PORT: port(5433, 'Postgres'),
  CATCHALL_PRODUCER_PORT: port(3000, 'ingest API'),
  CATCHALL_QUERY_PORT: port(3001, 'query API'),
  CATCHALL_CONSUMER_PORT: port(3002, 'consumer health and metrics'),
  CATCHALL_PROMETHEUS_PORT: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 65535,
      description: 'Prometheus (when unset: 9090, or a free port when 9090 is taken)',
    }),
  ),
  CATCHALL_MONITORING: Type.Boolean({
    default: true,
    description: 'start a Prometheus that scrapes the services and evaluates the alerts',
  }),
  EVENTS_TOPIC_PARTITIONS: configFields.EVENTS_TOPIC_PARTITIONS,
};

const SERVICES = [
  { name: 'producer-api', portKey: 'CATCHALL_PRODUCER_PORT' },
  { name: 'consumer', portKey: 'CATCHALL_CONSUMER_PORT' },
  { name: 'query-api', portKey: 'CATCHALL_QUERY_PORT' },
] as const;

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Polls a service's /readyz until it answers 200. */
async function waitReady(name: string, servicePort: number): Promise<void> {
  const deadline = Date.now() + 60000;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${servicePort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`${name} was not ready within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main(): Promise<void> {
  const config = loadConfig(startConfigFields, process.env);
  const logger = terminalLogger(config.LOG_LEVEL);
  const t0 = Date.now();
  const children: ChildProcess[] = [];
  let infra: Infra | undefined = undefined;
  let prometheus: LocalPrometheus | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = (reason: string, code: number) => {
    stopping ??= (async () => {
      if (infra === undefined) {
        // Still starting: exiting SIGKILLs the servers already spawned (managed-process)
        // and a Prometheus build under way (the exit handler below).
        logger.info({ reason }, 'stopping while the infrastructure starts');
        process.exit(code);
      }
      logger.info({ reason }, 'stopping Prometheus and the services, then the infrastructure');
      await prometheus?.stop();
      for (const child of [...children].reverse()) {
        child.kill('SIGTERM');
        await waitExit(child);
      }
      await infra.stop();
      logger.info('everything stopped');
      process.exit(code);
    })();
    return stopping;
  };
  // From the first moment: a signal during the start would otherwise end this process
  // without its exit handlers, and leave Java and Postgres running.
  process.on('SIGINT', () => void stopAll('SIGINT', 0));
  process.on('SIGTERM', () => void stopAll('SIGTERM', 0));
  // However this process ends: a Prometheus build under way runs in a process group of its
  // own, which nothing else would stop (aborting it kills that group at once).
  process.on('exit', () => void prometheus?.stop());
  logger.info(
    'starting Kafka, schema registry and Postgres (the first start fetches them with Maven)',
  );
  // Built (on a first start) and started while the rest starts; it scrapes the services'
  // ports from the start, and the system runs on without it when it cannot be had.
  if (config.CATCHALL_MONITORING) {
    prometheus = startLocalPrometheus({
      dir: localDir('dev', 'prometheus'),
      port: config.CATCHALL_PROMETHEUS_PORT,
      targets: SERVICES.map(({ name, portKey }) => ({
        address: `127.0.0.1:${config[portKey]}`,
        service: name,
      })),
      log: (message) => logger.info(message),
      warn: (message) => logger.warn(message),
    });
  }
  infra = await startInfra({
    profile: 'dev',
    ports: {
      kafka: config.CATCHALL_KAFKA_PORT,
      kafkaController: config.CATCHALL_KAFKA_CONTROLLER_PORT,
      registry: config.CATCHALL_REGISTRY_PORT,
      postgres: config.CATCHALL_POSTGRES_PORT,
    },
    databaseUrl: config.DATABASE_URL,
    log: (message) => logger.info(message),
  });

  const databaseUrl = infra.postgres.urlFor('catchall');
  try {
    await infra.postgres.createDatabase('catchall');
    await migrate({ databaseUrl, logger });
    await ensureTopics({
      kafka: createKafka({ brokers: infra.kafka.brokers, clientId: 'catchall-setup', logger }),
      topic: configFields.EVENTS_TOPIC.default,
      partitions: config.EVENTS_TOPIC_PARTITIONS,
      replicationFactor: 1,
      logger,
    });
    // A service that exits on its own is started again, as an orchestrator would: the
    // projector exits non-zero when it cannot go on, and a restart resumes it from its
    // stored positions. The delay doubles while it keeps failing within a minute of start.
    const launch = (
      name: string,
      portKey: (typeof SERVICES)[number]['portKey'],
      index: number,
      delayMs: number,
    ) => {
      const started = Date.now();
      const child = spawn(process.execPath, [path.join(REPO_ROOT, name, 'dist', 'main.js')], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: serviceEnv(process.env, {
          PORT: String(config[portKey]),
          KAFKA_BROKERS: infra.kafka.brokers,
          SCHEMA_REGISTRY_URL: infra.registry.url,
          DATABASE_URL: databaseUrl,
          MIGRATE_ON_START: 'false',
          ...(name === 'producer-api'
            ? { NODE_OPTIONS: withNodeOptions(INGEST_NODE_OPTIONS, process.env.NODE_OPTIONS) }
            : {}),
        }),
      });
      pipeServiceLogs(name, index, child.stdout);
      pipeServiceLogs(name, index, child.stderr);
      child.on('exit', (code, signal) => {
        const at = children.indexOf(child);
        if (stopping || at < 0) return;
        const next = Date.now() - started > 60000 ? 1000 : Math.min(delayMs * 2, 30000);
        logger.error(
          { service: name, code, signal, restartInMs: next },
          `${name} exited; starting it again`,
        );
        const timer = setTimeout(() => {
          if (!stopping) children[at] = launch(name, portKey, index, next);
        }, next);
        timer.unref();
      });
      return child;
    };
    SERVICES.forEach(({ name, portKey }, index) =>
      children.push(launch(name, portKey, index, 500)),
    );
    await Promise.all(SERVICES.map(({ name, portKey }) => waitReady(name, config[portKey])));
  } catch (err) {
    logger.error({ err }, 'set-up failed');
    await stopAll('set-up failed', 1);
    return;
  }
  // A Postgres of the user's own: its URL holds a password, which is not logged.
  const shownDatabaseUrl = config.DATABASE_URL === undefined ? databaseUrl : '<your DATABASE_URL>';
  const monitoring = await prometheusBannerNow(prometheus, (lines) => {
    if (!stopping) logger.info(['Prometheus is up.', ...lines].join('\n'));
  });
  logger.info(
    { seconds: (Date.now() - t0) / 1000 },
    [
      'Catch-all is up. Try:',
      `  curl -X PUT http://localhost:${config.CATCHALL_PRODUCER_PORT}/events/example.com/delivered`,
      `  curl http://localhost:${config.CATCHALL_QUERY_PORT}/domains/example.com`,
      `API docs: http://localhost:${config.CATCHALL_PRODUCER_PORT}/docs and http://localhost:${config.CATCHALL_QUERY_PORT}/docs`,
      `Rebuild the read model from the topic, or redrive dead letters (the other settings are the defaults):`,
      `  DATABASE_URL=${shownDatabaseUrl} npm run replay -- rebuild`,
      `  DATABASE_URL=${shownDatabaseUrl} npm run dlq -- redrive --help`,
      ...monitoring,
      'Ctrl-C stops everything.',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
