import type { Producer } from 'kafkajs';
import type { Logger } from 'pino';

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
