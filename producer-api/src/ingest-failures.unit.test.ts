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
