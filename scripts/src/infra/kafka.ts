import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import type { TestCertificates } from './certificates';
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
  /** Listeners besides PLAINTEXT for tests of secured clients (test profile only). */
  secured?: SecuredListeners;
}

/** A user and password, for SASL PLAIN or SCRAM. */
export interface Credentials {
  username: string;
  password: string;
}

export interface SecuredListeners {
  /** SASL_SSL: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER (unsecured JWTs). */
  saslSslPort: number;
  /** SSL with `ssl.client.auth=required`: mutual TLS. */
  sslPort: number;
  certificates: TestCertificates;
  /** Accepted by PLAIN (written into the listener's JAAS config). */
  plainUser: Credentials;
  /** Accepted by both SCRAM mechanisms (added to the metadata when formatting). */
  scramUser: Credentials;
}

export interface RunningKafka {
  brokers: string;
  /** `host:port` of the SASL_SSL and the mutual TLS listeners, when asked for. */
  saslSslBrokers?: string;
  sslBrokers?: string;
  /** The folder of the fetched jars, for Kafka's own tools (perf tests). */
  libs: string;
  java: string;
  /** The broker's `log.dirs`: one folder per partition (`<topic>-<n>`) holding its segments. */
  logDir: string;
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
  const s = o.secured;
  const clientListeners = [
    `PLAINTEXT://127.0.0.1:${o.port}`,
    ...(s ? [`SASL_SSL://127.0.0.1:${s.saslSslPort}`, `SSL://127.0.0.1:${s.sslPort}`] : []),
  ];
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=127.0.0.1:${o.controllerPort}`,
    `listeners=${[...clientListeners, `CONTROLLER://127.0.0.1:${o.controllerPort}`].join(',')}`,
    // Clients are given the broker listeners only, never the KRaft controller's; each
    // listener advertises its own port, so a client stays on the listener it came in by.
    `advertised.listeners=${clientListeners.join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL',
    ...(s ? securedProperties(s) : []),
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

/** A JAAS option value, quoted (JAAS strings take backslash escapes). */
function jaasString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The secured listeners' settings: PEM key and trust stores (KIP-651), the SASL mechanisms
 * with their JAAS configs per listener, and mutual TLS required on the SSL listener.
 */
function securedProperties(s: SecuredListeners): string[] {
  const c = s.certificates;
  const tls = (listener: string) => [
    `listener.name.${listener}.ssl.keystore.type=PEM`,
    `listener.name.${listener}.ssl.keystore.location=${c.serverKeyStoreFile}`,
    `listener.name.${listener}.ssl.truststore.type=PEM`,
    `listener.name.${listener}.ssl.truststore.location=${c.caFile}`,
  ];
  const sasl = 'listener.name.sasl_ssl';
  const plain = s.plainUser;
  return [
    ...tls('sasl_ssl'),
    ...tls('ssl'),
    'listener.name.ssl.ssl.client.auth=required',
    `${sasl}.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER`,
    `${sasl}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${plain.username}=${jaasString(plain.password)};`,
    `${sasl}.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    `${sasl}.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    // With no server callback handler set, OAUTHBEARER validates unsecured JWTs (alg none)
    // with Kafka's OAuthBearerUnsecuredValidatorCallbackHandler: for tests only.
    `${sasl}.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker";`,
  ];
}

/** StorageTool's `--add-scram` arguments: the SCRAM user, for both mechanisms. */
function scramArguments(s: SecuredListeners | undefined): string[] {
  if (!s) return [];
  const { username, password } = s.scramUser;
  return ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((mechanism) => [
    '--add-scram',
    `${mechanism}=[name=${username},password=${password}]`,
  ]);
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
      ...scramArguments(options.secured),
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
  const secured = options.secured
    ? {
        saslSslBrokers: `127.0.0.1:${options.secured.saslSslPort}`,
        sslBrokers: `127.0.0.1:${options.secured.sslPort}`,
      }
    : {};
  return {
    brokers,
    ...secured,
    libs: dist,
    java,
    logDir: path.join(options.dir, 'data'),
    process: proc,
    stop: () => proc.stop(),
  };
}
