import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { findJava } from './java';
import { startProcess, type ManagedProcess } from './managed-process';
import { fetchKafka } from './maven';

const run = promisify(execFile);

export interface KafkaOptions {
  /** Broker data, configuration and log live here. */
  dir: string;
  port: number;
  controllerPort: number;
  heapMb?: number;
}

export interface RunningKafka {
  brokers: string;
  /** The folder of the fetched jars, for Kafka's own tools (perf tests). */
  libs: string;
  java: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

const LOG4J = `
appender.file.type=Console
appender.file.name=OUT
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=WARN
rootLogger.appenderRef.out.ref=OUT
logger.started.name=kafka.server.KafkaRaftServer
logger.started.level=INFO
`;

function serverProperties(o: KafkaOptions): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=127.0.0.1:${o.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}`,
    // Clients are given the broker listener only, never the KRaft controller's.
    `advertised.listeners=PLAINTEXT://127.0.0.1:${o.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${path.join(o.dir, 'data')}`,
    'auto.create.topics.enable=false',
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=4',
    // A transaction left open by a killed producer is aborted soon after its timeout (the
    // default checks every 10 s); until then read_committed readers wait behind it.
    'transaction.abort.timed.out.transaction.cleanup.interval.ms=1000',
    'group.initial.rebalance.delay.ms=0',
    'delete.topic.enable=true',
  ].join('\n');
}

async function brokerAnswers(brokers: string): Promise<boolean> {
  const admin = new Kafka({
    brokers: [brokers],
    clientId: 'catchall-infra',
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1000,
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } finally {
    await admin.disconnect();
  }
}

/** A single-node KRaft broker started with plain `java` from the fetched jars. */
export async function startKafka(options: KafkaOptions): Promise<RunningKafka> {
  const { dir: dist } = await fetchKafka();
  const java = findJava(17);
  mkdirSync(options.dir, { recursive: true });
  const config = path.join(options.dir, 'server.properties');
  const log4j = path.join(options.dir, 'log4j2.properties');
  writeFileSync(config, serverProperties(options));
  writeFileSync(log4j, LOG4J);
  const classpath = `${dist}/*`;
  const jvm = [`-Dlog4j2.configurationFile=${log4j}`, '-cp', classpath];
  if (!existsSync(path.join(options.dir, 'data', 'meta.properties'))) {
    await run(java, [
      ...jvm,
      'kafka.tools.StorageTool',
      'format',
      '--standalone',
      '-t',
      randomUUID(),
      '-c',
      config,
    ]);
  }
  const brokers = `127.0.0.1:${options.port}`;
  const heap = options.heapMb ?? 768;
  const proc = await startProcess({
    name: 'kafka',
    command: java,
    args: [
      `-Xmx${heap}m`,
      `-Xms${Math.min(heap, 256)}m`,
      '-XX:+UseG1GC',
      ...jvm,
      'kafka.Kafka',
      config,
    ],
    logFile: path.join(options.dir, 'kafka.log'),
    pidFile: path.join(options.dir, 'kafka.pid'),
    ready: () => brokerAnswers(brokers),
    timeoutMs: 60000,
  });
  return { brokers, libs: dist, java, process: proc, stop: () => proc.stop() };
}
