import { KafkaJSError, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { errorCatalogue } from '../domain/error-catalogue';
import { isRetriable } from './retriable';

/**
 * Broker answers (Kafka protocol error names) that refuse the records or the credentials
 * themselves: a new producer gets the same answer.
 */
const REFUSED_FOR_GOOD = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TOPIC_EXCEPTION',
  'POLICY_VIOLATION',
  'TOPIC_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'UNSUPPORTED_VERSION',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
]);

/**
 * Whether a failed send may pass on a new producer (ProducerHandle.replace). `isRetriable`
 * decides, with one addition: kafkajs's `retriable: false` says that kafkajs may not retry
 * the call on the same producer, and a failure of the producer's own state (fenced, an old
 * epoch, an unknown producer id or sequence, kafkajs's transaction state machine refusing a
 * call: a broker killed and restarted gives them) passes on a new one. kafkajs marks these
 * and its own refusals of what it is given alike (a KafkaJSNonRetriableError without a
 * protocol type), so a Kafka error that is not a refusal for good (REFUSED_FOR_GOOD) counts
 * as one that may pass: the safe side, since a retry cannot lose an event and giving up on a
 * mendable failure would. Errors of other origins (a programmer error) do not.
 */
export function mayPassOnNewProducer(err: unknown): boolean {
  if (isRetriable(err)) return true;
  if (!(err instanceof KafkaJSError)) return false;
  const type = (err as { type?: unknown }).type;
  if (typeof type === 'string' && REFUSED_FOR_GOOD.has(type)) return false;
  const cause: unknown = err.cause;
  if (cause === undefined || cause === err) return true;
  return cause instanceof KafkaJSError && mayPassOnNewProducer(cause);
}

/** A send failed in a way a new producer mends (see mayPassOnNewProducer): retriable. */
export class ProducerFailed extends Error {
  readonly code = errorCatalogue.producerFailed.code;
  readonly retriable = errorCatalogue.producerFailed.retriable;
}

/**
 * The failure of a send on a producer that is then replaced, as retry logic should see it:
 * one that may pass on the new producer but that kafkajs marked not retriable becomes a
 * ProducerFailed with the failure as its cause; any other is returned as it is.
 */
export function producerFailure(err: unknown): unknown {
  if (isRetriable(err) || !mayPassOnNewProducer(err)) return err;
  const type = (err as { type?: unknown }).type;
  const name = typeof type === 'string' ? type : (err as Error).name;
  return new ProducerFailed(`Kafka producer failed (${name}); it is replaced`, { cause: err });
}

export interface ProducerHandle {
  /** The connected producer, connecting one first if needed. */
  get(): Promise<Producer>;
  /**
   * Drops a producer whose send failed and opens a new one for the next send.
   * kafkajs 2.2.4 does not advance an idempotent producer's sequence numbers after a failed
   * send, even when the broker did append it; the next send then reuses them, the broker
   * takes it for a duplicate and drops it, and kafkajs reports success: acknowledged
   * events lost (reproduced here by restarting the broker under load). A new producer
   * gets a new producer id, so no later send can be mistaken for an earlier one.
   */
  replace(failed: Producer): void;
  close(): Promise<void>;
}

export function createProducerHandle(options: {
  create: () => Producer;
  logger: Logger;
}): ProducerHandle {
  let current: { producer: Producer; connected: Promise<void> } | undefined;

  function open() {
    const producer = options.create();
    const connected = producer.connect();
    current = { producer, connected };
    return current;
  }

  return {
    async get() {
      const { producer, connected } = current ?? open();
      try {
        await connected;
      } catch (err) {
        if (current?.producer === producer) current = undefined;
        throw err;
      }
      return producer;
    },
    replace(failed) {
      if (current?.producer !== failed) return;
      current = undefined;
      failed
        .disconnect()
        .catch((err: unknown) =>
          options.logger.warn({ err }, 'disconnecting a failed producer failed'),
        );
    },
    async close() {
      const last = current;
      current = undefined;
      if (last) await last.producer.disconnect();
    },
  };
}
