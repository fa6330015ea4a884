import { KafkaJSError, type Kafka, type KafkaConfig } from 'kafkajs';
import type { Logger } from 'pino';
import { errorCatalogue } from '../domain/error-catalogue';
import type { KafkaConnectionConfig } from './config';
import { createKafka, kafkaConnection } from './kafka';

/**
 * A dependency refused the program's credentials or certificate, or presented one the
 * program does not trust: trying again unchanged cannot help, so the program stops at
 * start with the reason and the settings to check, instead of retrying for ever.
 */
export class AccessRefused extends Error {
  readonly code = errorCatalogue.accessRefused.code;
  readonly retriable = errorCatalogue.accessRefused.retriable;
}

/** Node's and OpenSSL's codes of a TLS handshake that failed on a certificate or protocol. */
export function isTlsCode(code: string): boolean {
  return /^(ERR_TLS_|ERR_SSL_)|CERT|SIGNATURE|^DEPTH_ZERO/.test(code);
}

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; typeof e === 'object' && e !== null && !chain.includes(e);) {
    chain.push(e);
    e =
      (e as { cause?: unknown; originalError?: unknown }).cause ??
      (e as { originalError?: unknown }).originalError;
  }
  return chain;
}

/**
 * Kafka could not be reached, or did not answer, within the time a short-lived program (the
 * dead-letter tools) gives it: the message names the brokers tried. Retriable: run again
 * once Kafka answers.
 */
export class KafkaUnreachable extends Error {
  readonly code = errorCatalogue.notReady.code;
  readonly retriable = errorCatalogue.notReady.retriable;
}

/**
 * A failure of kafkajs after the first contact (a broker gone or frozen: its KafkaJSError
 * subclasses, and `Broker not connected`, which it throws as a plain Error) as a
 * KafkaUnreachable naming `brokers`; anything else as it is.
 */
export function asKafkaUnreachable(err: unknown, brokers: string): unknown {
  const fromKafkajs =
    err instanceof KafkaJSError || (err instanceof Error && err.message === 'Broker not connected');
  if (!fromKafkajs) return err;
  return new KafkaUnreachable(
    `Kafka at ${brokers} failed or stopped answering (${err.message}); check that the brokers run, then run again`,
    { cause: err },
  );
}

function unreachable(brokers: string, why: string, cause?: unknown): KafkaUnreachable {
  return new KafkaUnreachable(
    `Kafka could not be reached at ${brokers} (${why}); check KAFKA_BROKERS and that the brokers run, then run again`,
    { cause },
  );
}

/**
 * Why a Kafka connection failed for good, when it did: SASL authentication refused (kafkajs's
 * KafkaJSSASLAuthenticationError) or a TLS handshake that failed on a certificate
 * (SELF_SIGNED_CERT_IN_CHAIN, ERR_TLS_CERT_ALTNAME_INVALID, a client certificate the
 * broker wants or refuses...), or a connection the broker closed at once or a TLS handshake
 * with a listener that does not speak TLS (the configured protocol is not the listener's).
 * Undefined for anything else (a broker not reachable yet).
 */
export function kafkaAccessProblem(err: unknown): string | undefined {
  for (const e of causes(err)) {
    const { name, code } = e as { name?: unknown; code?: unknown };
    // OpenSSL's texts may span lines; the program's refusal is one line.
    const message = String((e as { message?: unknown }).message).replace(/\s*\n\s*/g, ' ');
    if (typeof name === 'string' && name.startsWith('KafkaJSSASL')) {
      return `Kafka refused the SASL authentication (${message}); check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_OAUTHBEARER_TOKEN_FILE)`;
    }
    // The broker closed the connection at its first request, or a TLS handshake met a
    // listener that does not speak TLS: the client's protocol is not the listener's. (A
    // broker that is down refuses the connection instead: ECONNREFUSED, waited for.)
    if (
      name === 'KafkaJSConnectionClosedError' ||
      message.includes('before secure TLS connection')
    ) {
      return `Kafka closed the connection at once (${message}): KAFKA_SECURITY_PROTOCOL may not be the protocol of the listener KAFKA_BROKERS names (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, with KAFKA_SASL_MECHANISM for SASL)`;
    }
    if (typeof code === 'string' && /CERTIFICATE_REQUIRED$/.test(code)) {
      return `Kafka requires a client certificate (${code}); set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE (mutual TLS)`;
    }
    if (typeof code === 'string' && isTlsCode(code)) {
      return `Kafka TLS handshake failed (${code}: ${message}); check KAFKA_SSL_CA_FILE (the CA that signed the brokers' certificates), that KAFKA_BROKERS names hosts their certificates cover, and KAFKA_SSL_CERT_FILE/KAFKA_SSL_KEY_FILE when the brokers require a client certificate`;
    }
  }
  return undefined;
}

/**
 * Connects once to the cluster, before the program's long-lived clients (whose retries are
 * unbounded) do: a refused password or an untrusted certificate becomes an AccessRefused
 * naming Kafka and the settings to check. A cluster that is only unreachable passes: the
 * clients keep trying as before; with `reachable`, it is a KafkaUnreachable naming
 * `reachable.brokers` once the cluster has not answered within `reachable.withinMs` (a
 * program that runs once and cannot wait for ever).
 */
export async function checkKafkaAccess(
  kafka: Kafka,
  logger: Logger,
  reachable?: { brokers: string; withinMs: number },
): Promise<void> {
  const admin = kafka.admin();
  let timer: NodeJS.Timeout | undefined;
  try {
    const contact = async () => {
      await admin.connect();
      // A Metadata request too: a SASL listener answers ApiVersions before authentication
      // and closes the connection only at the next request of a client that skipped it.
      await admin.describeCluster();
    };
    if (reachable === undefined) await contact();
    else {
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(unreachable(reachable.brokers, `no answer within ${reachable.withinMs} ms`)),
          reachable.withinMs,
        );
      });
      await Promise.race([contact(), late]);
    }
  } catch (err) {
    if (err instanceof KafkaUnreachable) throw err;
    const problem = kafkaAccessProblem(err);
    if (problem) throw new AccessRefused(problem, { cause: err });
    if (reachable !== undefined)
      throw unreachable(reachable.brokers, String((err as Error).message), err);
    logger.warn({ err }, 'Kafka not reachable yet; the clients keep trying');
  } finally {
    clearTimeout(timer);
    await admin
      .disconnect()
      .catch((err: unknown) => logger.debug({ err }, 'closing the access check client failed'));
  }
}

/**
 * The Kafka client of a program, `<KAFKA_CLIENT_ID>-<role>`, connected as its settings say
 * (kafkaConnection), its access checked once (checkKafkaAccess): what every program that
 * talks to Kafka opens at start. Throws AccessRefused as checkKafkaAccess does; a cluster
 * that is only unreachable passes, unless `reachableWithinMs` is given (KafkaUnreachable).
 * `retry`: the client's, createKafka's default when absent.
 */
export async function connectKafka(options: {
  config: KafkaConnectionConfig & { KAFKA_CLIENT_ID: string };
  role: string;
  logger: Logger;
  retry?: KafkaConfig['retry'];
  /** kafkajs's `requestTimeout` (its default, 30 s, when absent). */
  requestTimeoutMs?: number;
  /** kafkajs's `connectionTimeout` (its default, 1 s, when absent). */
  connectionTimeoutMs?: number;
  /** When given, an unreachable cluster is a KafkaUnreachable after this long (checkKafkaAccess). */
  reachableWithinMs?: number;
}): Promise<Kafka> {
  const { config, logger } = options;
  const kafka = createKafka({
    ...kafkaConnection(config),
    clientId: `${config.KAFKA_CLIENT_ID}-${options.role}`,
    logger,
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.requestTimeoutMs === undefined
      ? {}
      : { requestTimeoutMs: options.requestTimeoutMs }),
    ...(options.connectionTimeoutMs === undefined
      ? {}
      : { connectionTimeoutMs: options.connectionTimeoutMs }),
  });
  await checkKafkaAccess(
    kafka,
    logger,
    options.reachableWithinMs === undefined
      ? undefined
      : { brokers: config.KAFKA_BROKERS, withinMs: options.reachableWithinMs },
  );
  return kafka;
}
