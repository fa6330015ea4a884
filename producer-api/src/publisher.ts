import { KafkaJSError, type Message } from 'kafkajs';
import { errors, type CatchallError, type ProducerHandle } from '@catchall/core';
import type { ProducerMetrics } from './metrics';

export interface PublisherOptions {
  producer: ProducerHandle;
  topic: string;
  /** Records wait at most this long to share a produce request. */
  lingerMs: number;
  /** Records per produce request at most (a request's records are never split). */
  maxBatchRecords: number;
  /** Records queued or in flight at most; beyond, publish refuses with 503. */
  maxQueuedRecords: number;
  /** A publish not acknowledged within this time is answered 503. */
  ackTimeoutMs: number;
  metrics: ProducerMetrics;
}

export interface Publisher {
  /** Resolves once Kafka acknowledged every message (acks=all), rejects with a 503 error. */
  publish(messages: Message[]): Promise<void>;
  /** Sends what is queued and waits for every acknowledgement. */
  drain(): Promise<void>;
  /** True when the last produce request failed (Kafka unreachable or refusing). */
  failing(): boolean;
}

interface Pending {
  messages: Message[];
  enqueuedAt: bigint;
  resolve: () => void;
  reject: (err: CatchallError) => void;
}

function toHttpError(err: unknown): CatchallError {
  const reason = err instanceof KafkaJSError ? err.message : String(err);
  return errors.unavailable(`Kafka (${reason})`);
}

/**
 * Micro-batching: concurrent requests share Kafka produce requests. Records gather while a
 * send is in flight, or for at most `lingerMs` when idle, and go out together, at most
 * `maxBatchRecords` a send; each caller is answered when its own records are acknowledged.
 * One send at a time: that is all an idempotent producer with one request in flight does
 * anyway, and it keeps the sequence numbers of consecutive sends in order.
 */
export function createPublisher(options: PublisherOptions): Publisher {
  const { metrics } = options;
  let queue: Pending[] = [];
  /** Records in `queue`, waiting for a produce request. */
  let waitingRecords = 0;
  /** Records accepted and not yet answered: waiting plus in flight. */
  let queuedRecords = 0;
  let sending: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastSendFailed = false;

  function takeBatch(): Pending[] {
    let records = 0;
    let take = 0;
    while (
      take < queue.length &&
      (take === 0 || records + queue[take]!.messages.length <= options.maxBatchRecords)
    ) {
      records += queue[take]!.messages.length;
      take += 1;
    }
    const batch = queue.slice(0, take);
    queue = queue.slice(take);
    waitingRecords -= records;
    return batch;
  }

  async function send(batch: Pending[]): Promise<void> {
    const messages = batch.length === 1 ? batch[0]!.messages : batch.flatMap((p) => p.messages);
    metrics.produceBatchSize.observe(messages.length);
    let producer;
    try {
      producer = await options.producer.get();
      await producer.send({ topic: options.topic, acks: -1, messages });
      lastSendFailed = false;
      const now = process.hrtime.bigint();
      for (const p of batch) {
        metrics.produceLatency.observe(Number(now - p.enqueuedAt) / 1e9);
        p.resolve();
      }
    } catch (err) {
      lastSendFailed = true;
      if (producer) options.producer.replace(producer);
      const httpError = toHttpError(err);
      for (const p of batch) p.reject(httpError);
    } finally {
      queuedRecords -= messages.length;
      metrics.queueDepth.set(queuedRecords);
    }
  }

  /** Sends batches one after another until the queue is empty. */
  function drainQueue(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (sending || queue.length === 0) return;
    sending = (async () => {
      while (queue.length > 0) await send(takeBatch());
    })().finally(() => {
      sending = undefined;
    });
  }

  function withTimeout(promise: Promise<void>): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(errors.timeout(options.ackTimeoutMs)), options.ackTimeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
  }

  return {
    publish(messages) {
      if (queuedRecords + messages.length > options.maxQueuedRecords) {
        return Promise.reject(errors.overloaded());
      }
      const acked = new Promise<void>((resolve, reject) => {
        queue.push({ messages, enqueuedAt: process.hrtime.bigint(), resolve, reject });
      });
      queuedRecords += messages.length;
      waitingRecords += messages.length;
      metrics.queueDepth.set(queuedRecords);
      // While a send is in flight the queue fills and goes out when it returns.
      if (!sending) {
        if (waitingRecords >= options.maxBatchRecords) drainQueue();
        else timer ??= setTimeout(drainQueue, options.lingerMs);
      }
      return withTimeout(acked);
    },
    async drain() {
      drainQueue();
      while (sending) await sending;
    },
    failing: () => lastSendFailed,
  };
}
