import type { FastifyInstance } from 'fastify';
import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
} from 'kafkajs';
import type { InMemoryProducerHandle } from '../../test/support/in-memory-ports';
import { inMemoryIngestApp } from '../../test/support/ingest-ports';

/** The ingest API over an in-memory transactional producer; no socket, no Kafka. */
const ingestApp = () =>
  inMemoryIngestApp('ingest-failures', {
    publisher: { maxBatchRecords: 100, maxQueuedRecords: 1000 },
  });

/** What kafkajs's retrier rejects with for an error it may not retry: the error as cause. */
function retriesGivenUp(cause: Error): KafkaJSNonRetriableError {
  return Object.assign(new KafkaJSNonRetriableError(cause), { cause });
}

function putDelivered(app: FastifyInstance) {
  return app.inject({ method: 'PUT', url: '/events/example.com/delivered' });
}

describe('the ingest answer to a failed Kafka transaction', () => {
  let app: FastifyInstance;
  let kafka: InMemoryProducerHandle;

  beforeEach(() => {
    ({ app, kafka } = ingestApp());
  });

  afterEach(async () => {
    await app.close();
  });

  it('answers 202 once the transaction is committed', async () => {
    const answer = await putDelivered(app);
    expect(answer.statusCode).toBe(202);
    expect(kafka.committed.map((m) => m.key)).toEqual(['example.com']);
  });

  it('answers 503 CATCHALL_UNAVAILABLE with Retry-After when Kafka cannot be reached', async () => {
    kafka.failure = {
      at: 'send',
      error: new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'),
    };
    const answer = await putDelivered(app);
    expect(answer.statusCode).toBe(503);
    expect(answer.headers['retry-after']).toBeDefined();
    expect(answer.json()).toMatchObject({ code: 'CATCHALL_UNAVAILABLE' });
    expect(kafka.committed).toEqual([]);
    expect(kafka.replaced).toBe(1);
  });

  it('answers 503 also when kafkajs ran out of retries on a failure that may pass', async () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED');
    kafka.failure = {
      at: 'send',
      error: new KafkaJSNumberOfRetriesExceeded(refused, { retryCount: 5, retryTime: 2000 }),
    };
    const answer = await putDelivered(app);
    expect(answer.statusCode).toBe(503);
    expect(answer.json()).toMatchObject({ code: 'CATCHALL_UNAVAILABLE' });
  });

  it('answers 503 CATCHALL_COMMIT_UNKNOWN when the commit was sent and its answer lost', async () => {
    kafka.failure = { at: 'commit', error: new KafkaJSConnectionError('Connection closed') };
    const answer = await putDelivered(app);
    expect(answer.statusCode).toBe(503);
    expect(answer.headers['retry-after']).toBeDefined();
    expect(answer.json()).toMatchObject({ code: 'CATCHALL_COMMIT_UNKNOWN' });
  });

  it('answers a programmer error 500 CATCHALL_INTERNAL without telling the client its cause', async () => {
    kafka.failure = {
      at: 'send',
      error: new TypeError("Cannot read properties of undefined (reading 'secret detail')"),
    };
    const answer = await putDelivered(app);
    expect(answer.statusCode).toBe(500);
    expect(answer.headers['retry-after']).toBeUndefined();
    expect(answer.json()).toEqual({
      statusCode: 500,
      code: 'CATCHALL_INTERNAL',
      error: 'Internal Server Error',
      message: 'Internal error; it was logged',
    });
    expect(answer.body).not.toContain('secret detail');
  });

  it('answers 503 when the producer itself failed (fenced, a transaction in a wrong state): the next one mends it', async () => {
    const fenced = new KafkaJSProtocolError(
      Object.assign(new Error('There is a newer producer with the same transactionalId'), {
        type: 'PRODUCER_FENCED',
        code: 90,
        retriable: false,
      }),
    );
    for (const error of [
      retriesGivenUp(fenced),
      new KafkaJSNonRetriableError(
        'Transaction state exception: Cannot call "send" in state "ABORTING"',
      ),
    ]) {
      kafka.failure = { at: 'send', error };
      const answer = await putDelivered(app);
      expect(answer.statusCode).toBe(503);
      expect(answer.json()).toMatchObject({ code: 'CATCHALL_UNAVAILABLE' });
    }
  });

  it('never puts the message of a failure in a 503: it may name brokers or records', async () => {
    kafka.failure = {
      at: 'send',
      error: new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 10.1.2.3:9092'),
    };
    const down = await putDelivered(app);
    expect(down.statusCode).toBe(503);
    expect(down.json().message).toMatch(/^Kafka \(KafkaJSConnectionError\) is unavailable/);
    expect(down.body).not.toContain('10.1.2.3');
    kafka.failure = {
      at: 'send',
      error: new KafkaJSNonRetriableError(
        'Transaction state exception: Cannot call "send" in state "ABORTING" (secret.example)',
      ),
    };
    const state = await putDelivered(app);
    expect(state.statusCode).toBe(503);
    expect(state.body).not.toContain('secret.example');
  });

  it('answers records Kafka refuses for good 500, not 503', async () => {
    const tooLarge = new KafkaJSProtocolError(
      Object.assign(new Error('The request included a message larger than allowed'), {
        type: 'MESSAGE_TOO_LARGE',
        code: 10,
        retriable: false,
      }),
    );
    kafka.failure = {
      at: 'send',
      error: retriesGivenUp(tooLarge),
    };
    const answer = await putDelivered(app);
    expect(answer.statusCode).toBe(500);
    expect(answer.json()).toMatchObject({ code: 'CATCHALL_INTERNAL' });
    expect(answer.body).not.toContain('larger than allowed');
  });

  it('recovers by itself: the next transaction after a failure is committed', async () => {
    kafka.failure = { at: 'send', error: new KafkaJSConnectionError('Connection closed') };
    expect((await putDelivered(app)).statusCode).toBe(503);
    kafka.failure = undefined;
    expect((await putDelivered(app)).statusCode).toBe(202);
    expect(kafka.committed).toHaveLength(1);
  });
});

describe('the ingest answer while Kafka is known unreachable', () => {
  /** The background Kafka check, failing while `down` is true. */
  const kafkaCheck = {
    down: false,
    failing: () => kafkaCheck.down,
    check: async () => {
      if (kafkaCheck.down) throw new Error('Kafka: no answer within 3000 ms');
    },
  };
  let app: FastifyInstance;
  let kafka: InMemoryProducerHandle;

  beforeEach(() => {
    kafkaCheck.down = false;
    ({ app, kafka } = inMemoryIngestApp('ingest-failures', { kafkaCheck }));
  });

  afterEach(async () => {
    await app.close();
  });

  /** catchall_events_rejected_total{reason} as /metrics exposes it. */
  async function rejected(reason: string): Promise<number> {
    const { body } = await app.inject({ method: 'GET', url: '/metrics' });
    const line = body
      .split('\n')
      .find((l) => l.startsWith(`catchall_events_rejected_total{reason="${reason}"}`));
    return Number(line?.split(' ').at(-1));
  }

  it('given the check failing and the last produce request failed, answers a PUT and a POST /events 503 CATCHALL_UNAVAILABLE with Retry-After without sending anything, counted by its code', async () => {
    kafka.failure = { at: 'send', error: new KafkaJSConnectionError('Connection timeout') };
    kafkaCheck.down = true;
    expect((await putDelivered(app)).statusCode).toBe(503);
    const transactions = kafka.transactions.length;
    const before = await rejected('CATCHALL_UNAVAILABLE');

    const put = await putDelivered(app);
    const post = await app.inject({
      method: 'POST',
      url: '/events',
      payload: [{ domain: 'example.org', type: 'bounced' }],
    });
    for (const answer of [put, post]) {
      expect(answer.statusCode).toBe(503);
      expect(answer.headers['retry-after']).toBe('1');
      expect(answer.json()).toEqual({
        statusCode: 503,
        code: 'CATCHALL_UNAVAILABLE',
        error: 'Service Unavailable',
        message: 'Kafka is unavailable; nothing was accepted, retry later',
      });
    }
    expect(kafka.transactions).toHaveLength(transactions);
    expect(await rejected('CATCHALL_UNAVAILABLE')).toBe(before + 2);

    // Kafka answers the check again: the next request is sent and accepted.
    kafka.failure = undefined;
    kafkaCheck.down = false;
    expect((await putDelivered(app)).statusCode).toBe(202);
    expect(kafka.committed.map((m) => m.key)).toEqual(['example.com']);
  });

  it('still answers an invalid request 400: validation comes before the refusal', async () => {
    kafka.failure = { at: 'send', error: new KafkaJSConnectionError('Connection timeout') };
    kafkaCheck.down = true;
    expect((await putDelivered(app)).statusCode).toBe(503);
    const answer = await app.inject({ method: 'PUT', url: '/events/-bad-.example/delivered' });
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toMatchObject({ code: 'CATCHALL_INVALID_DOMAIN' });
  });
});
