import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import {
  createDependencyCheck,
  startDependencyCheck,
  type DependencyCheck,
} from './dependency-check';
import type { KafkaConnectionConfig } from './config';
import { createKafka, kafkaConnection, type KafkaSecurity } from './kafka';
import type { Lifecycle } from './lifecycle';

/**
 * The Kafka cluster as a readiness check: a Metadata request (kafkajs's
 * `admin.describeCluster()`, answered by a broker, not from a cache) every `intervalMs`,
 * on a client of its own whose requests and connection attempts time out at `timeoutMs`
 * and are not retried, so that a broker that stops answering fails the check within about
 * an interval and a deadline, traffic or not (createDependencyCheck). The client stays
 * connected between probes and is dropped after a failure, so that the next probe connects
 * afresh. Its `stop` also closes the client.
 */
export function createKafkaCheck(options: {
  connection: { brokers: string } & KafkaSecurity;
  /** kafkajs client id of the check's own client. */
  clientId: string;
  intervalMs: number;
  timeoutMs: number;
  logger: Logger;
}): DependencyCheck {
  const kafka = createKafka({
    ...options.connection,
    clientId: options.clientId,
    logger: options.logger,
    retry: { retries: 0 },
    requestTimeoutMs: options.timeoutMs,
    connectionTimeoutMs: options.timeoutMs,
  });
  let admin: Admin | undefined;

  async function disconnect(): Promise<void> {
    const closing = admin;
    admin = undefined;
    await closing?.disconnect();
  }

  return createDependencyCheck({
    dependency: 'Kafka',
    intervalMs: options.intervalMs,
    timeoutMs: options.timeoutMs,
    logger: options.logger,
    async probe() {
      admin ??= kafka.admin({ retry: { retries: 0 } });
      try {
        await admin.connect();
        await admin.describeCluster();
      } catch (err) {
        await disconnect().catch((closeErr: unknown) =>
          options.logger.debug({ err: closeErr }, 'closing the Kafka check client failed'),
        );
        throw err;
      }
    },
    close: disconnect,
  });
}

/**
 * A service's Kafka check (createKafkaCheck) as its settings say: the client
 * `<KAFKA_CLIENT_ID>-<role>-check`, probing every DEPENDENCY_CHECK_INTERVAL_MS within
 * DEPENDENCY_CHECK_TIMEOUT_MS, stopped when `lifecycle` closes. Resolves once the first probe
 * has an outcome (passed or failed: an unreachable cluster does not stop the start).
 */
export async function startKafkaCheck(options: {
  config: KafkaConnectionConfig & {
    KAFKA_CLIENT_ID: string;
    DEPENDENCY_CHECK_INTERVAL_MS: number;
    DEPENDENCY_CHECK_TIMEOUT_MS: number;
  };
  role: string;
  lifecycle: Lifecycle;
  logger: Logger;
}): Promise<DependencyCheck> {
  const { config } = options;
  const check = createKafkaCheck({
    connection: kafkaConnection(config),
    clientId: `${config.KAFKA_CLIENT_ID}-${options.role}-check`,
    intervalMs: config.DEPENDENCY_CHECK_INTERVAL_MS,
    timeoutMs: config.DEPENDENCY_CHECK_TIMEOUT_MS,
    logger: options.logger,
  });
  return startDependencyCheck(check, 'kafka check', options.lifecycle);
}
