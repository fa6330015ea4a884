import { KafkaJSConnectionError, KafkaJSProtocolError, type Message } from 'kafkajs';
import { Registry } from 'prom-client';
import { errorCatalogue } from '@catchall/core';
import { createInMemoryProducerHandle } from '../../test/support/in-memory-ports';
import { testLogger } from '../../test/support/logger';
import { createProducerMetrics } from './metrics';
import { createPublisher, splitToFit, type Publisher, type PublisherOptions } from './publisher';

function message(key: string, valueBytes: number): Message {
  return { key, value: Buffer.alloc(valueBytes) };
}

describe('splitToFit', () => {
  it('keeps messages that fit together as they are, in one group', () => {
    const messages = [message('a.example', 100), message('b.example', 100)];
    const groups = splitToFit(messages, 4096);
    expect(groups).toHaveLength(1);
    expect(groups[0]).toBe(messages);
    expect(splitToFit([], 4096)).toEqual([]);
  });

  it('splits in order into groups of at most the limit, records and overheads counted', () => {
    const messages = Array.from({ length: 5001 }, (_, i) =>
      message(i === 5000 ? 'other.example' : 'one.example', 260),
    );
    const limit = 64 * 1024;
    const groups = splitToFit(messages, limit);
    expect(groups.length).toBeGreaterThan(1);
    expect(groups.flat()).toEqual(messages);
    for (const group of groups) {
      // What Kafka counts for a record batch: its header and each record's fields.
      const bytes = 61 + group.reduce((n, m) => n + 21 + m.key!.length + m.value!.length, 0);
      expect(bytes).toBeLessThanOrEqual(limit);
    }
  });

  it('counts the headers of records (a trace context) against the limit', () => {
    const traceparent = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    const messages = Array.from({ length: 2000 }, (_, i) => ({
      ...message(`d${i}.example`, 100),
      headers: { traceparent },
    }));
    const limit = 64 * 1024;
    const groups = splitToFit(messages, limit);
    expect(groups.flat()).toEqual(messages);
    for (const group of groups) {
      // Each header: its name and value and their two length varints (one byte each here).
      const header = 2 + 'traceparent'.length + traceparent.length;
      const bytes =
        61 + group.reduce((n, m) => n + 21 + header + m.key!.length + m.value!.length, 0);
      expect(bytes).toBeLessThanOrEqual(limit);
    }
  });

  it('puts a message larger than the limit in a group of its own (the broker then refuses it)', () => {
    const messages = [message('a', 10), message('b', 10_000), message('c', 10)];
    expect(splitToFit(messages, 4096).map((g) => g.map((m) => m.key))).toEqual([
      ['a'],
      ['b'],
      ['c'],
    ]);
  });
});

/** A publisher over one in-memory transactional producer, with these options changed. */
function publisherOver(options: Partial<PublisherOptions> = {}) {
  const kafka = createInMemoryProducerHandle();
  const publisher = createPublisher({
    producers: [kafka],
    idempotentProducers: [],
    topic: 'domain-events',
    lingerMs: 50,
    maxBatchRecords: 100,
    maxRequestBytes: 1024 * 1024,
    maxQueuedRecords: 1000,
    ackTimeoutMs: 5000,
    kafkaCheck: { failing: () => false },
    metrics: createProducerMetrics(new Registry()),
    logger: testLogger('publisher'),
    ...options,
  });
  return { kafka, publisher };
}

/** How a promise has settled so far, without waiting for it. */
function watch(promise: Promise<unknown>): {
  state: 'pending' | 'resolved' | 'rejected';
  error?: unknown;
} {
  const seen: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = {
    state: 'pending',
  };
  promise.then(
    () => {
      seen.state = 'resolved';
    },
    (error: unknown) => {
      seen.state = 'rejected';
      seen.error = error;
    },
  );
  return seen;
}

const keysOf = (messages: Message[]) => messages.map((m) => m.key);

/** Kafka's answer refusing records for good (a protocol error kafkajs does not retry). */
function refusedForGood(type: string, code: number, message: string): KafkaJSProtocolError {
  return new KafkaJSProtocolError(
    Object.assign(new Error(message), { type, code, retriable: false }),
  );
}

/** Jest's fake timers (and clock) in each test of the enclosing describe. */
function useFakeTimersInEach(): void {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });
}

describe('the publisher', () => {
  useFakeTimersInEach();

  it('given an idle producer, when requests arrive within lingerMs, then they go out together in one transaction', async () => {
    const { kafka, publisher } = publisherOver({ lingerMs: 50 });
    const first = watch(publisher.publish([message('a.example', 10)]));
    await jest.advanceTimersByTimeAsync(30);
    const second = watch(publisher.publish([message('b.example', 10), message('c.example', 10)]));
    await jest.advanceTimersByTimeAsync(19);
    expect(kafka.transactions).toEqual([]);
    expect(first.state).toBe('pending');

    await jest.advanceTimersByTimeAsync(1);
    expect(kafka.transactions).toHaveLength(1);
    expect(kafka.transactions[0]!.outcome).toBe('committed');
    expect(kafka.transactions[0]!.requests.map(keysOf)).toEqual([
      ['a.example', 'b.example', 'c.example'],
    ]);
    expect([first.state, second.state]).toEqual(['resolved', 'resolved']);
  });

  it('given maxBatchRecords records waiting, when the batch is full, then it is sent without waiting for the linger', async () => {
    const { kafka, publisher } = publisherOver({ lingerMs: 1000, maxBatchRecords: 3 });
    const first = publisher.publish([message('a.example', 10)]);
    const second = publisher.publish([message('b.example', 10), message('c.example', 10)]);
    // No timer is advanced: only a full batch can have gone out.
    await Promise.all([first, second]);
    expect(kafka.transactions.map((t) => t.requests.map(keysOf))).toEqual([
      [['a.example', 'b.example', 'c.example']],
    ]);
    // The transaction's producer is idle again (what waited when it returned went out then).
    await jest.advanceTimersByTimeAsync(0);
    const third = watch(publisher.publish([message('d.example', 10)]));
    // Alone, it waits for the linger.
    await jest.advanceTimersByTimeAsync(999);
    expect(third.state).toBe('pending');
    await jest.advanceTimersByTimeAsync(1);
    expect(third.state).toBe('resolved');
    expect(keysOf(kafka.committed)).toEqual(['a.example', 'b.example', 'c.example', 'd.example']);
  });

  it('never splits a request over two transactions: one that does not fit in the batch waits for the next', async () => {
    const { kafka, publisher } = publisherOver({ lingerMs: 60_000, maxBatchRecords: 3 });
    await Promise.all([
      publisher.publish([message('a.example', 10), message('b.example', 10)]),
      publisher.publish([message('c.example', 10), message('d.example', 10)]),
    ]);
    expect(kafka.transactions.map((t) => t.requests.map(keysOf))).toEqual([
      [['a.example', 'b.example']],
      [['c.example', 'd.example']],
    ]);
  });

  it('given the queue holds maxQueuedRecords, when another request arrives, then it is refused at once with 503 CATCHALL_OVERLOADED and nothing of it is sent', async () => {
    const registry = new Registry();
    const { kafka, publisher } = publisherOver({
      lingerMs: 0,
      maxQueuedRecords: 3,
      metrics: createProducerMetrics(registry),
    });
    /** catchall_produce_queue_records as a scrape reads it. */
    const queueGauge = async () =>
      (await registry.getSingleMetric('catchall_produce_queue_records')!.get()).values[0]?.value;
    expect(await queueGauge()).toBe(0);
    const release = kafka.holdAnswers();
    const inFlight = watch(publisher.publish([message('a.example', 10), message('b.example', 10)]));
    await jest.advanceTimersByTimeAsync(0);
    expect(await queueGauge()).toBe(2);

    await expect(
      publisher.publish([message('c.example', 10), message('d.example', 10)]),
    ).rejects.toMatchObject({
      code: errorCatalogue.overloaded.code,
      statusCode: 503,
      retriable: true,
    });
    expect(inFlight.state).toBe('pending');

    release();
    await jest.advanceTimersByTimeAsync(0);
    expect(inFlight.state).toBe('resolved');
    expect(keysOf(kafka.committed)).toEqual(['a.example', 'b.example']);
    expect(await queueGauge()).toBe(0);
    // Answered records leave the queue: there is room again.
    const after = publisher.publish([message('e.example', 10), message('f.example', 10)]);
    await jest.advanceTimersByTimeAsync(0);
    await expect(after).resolves.toBeUndefined();
  });

  it('given Kafka does not acknowledge within ackTimeoutMs, then the publisher reports failing until a transaction is committed again', async () => {
    const { kafka, publisher } = publisherOver({ lingerMs: 0, ackTimeoutMs: 1000 });
    const release = kafka.holdAnswers();
    const answer = watch(publisher.publish([message('a.example', 10)]));
    await jest.advanceTimersByTimeAsync(999);
    expect(publisher.failing()).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(answer.state).toBe('rejected');
    expect(publisher.failing()).toBe(true);
    release();
    await jest.advanceTimersByTimeAsync(0);
    expect(publisher.failing()).toBe(false);
  });

  it('given a produce request failed and no request came after it, then the failure lapses after twice ackTimeoutMs (the background Kafka check decides alone)', async () => {
    const { kafka, publisher } = publisherOver({ lingerMs: 0, ackTimeoutMs: 1000 });
    kafka.holdAnswers();
    const answer = watch(publisher.publish([message('a.example', 10)]));
    await jest.advanceTimersByTimeAsync(1000);
    expect(answer.state).toBe('rejected');
    expect(publisher.failing()).toBe(true);
    await jest.advanceTimersByTimeAsync(1999);
    expect(publisher.failing()).toBe(true);
    await jest.advanceTimersByTimeAsync(1);
    expect(publisher.failing()).toBe(false);
  });

  it('given Kafka does not acknowledge within ackTimeoutMs, then the request is answered 503 CATCHALL_TIMEOUT, although the transaction may still commit', async () => {
    const { kafka, publisher } = publisherOver({ lingerMs: 0, ackTimeoutMs: 1000 });
    const release = kafka.holdAnswers();
    const answer = watch(publisher.publish([message('slow.example', 10)]));
    await jest.advanceTimersByTimeAsync(999);
    expect(answer.state).toBe('pending');

    await jest.advanceTimersByTimeAsync(1);
    expect(answer.state).toBe('rejected');
    expect(answer.error).toMatchObject({
      code: errorCatalogue.timeout.code,
      statusCode: 503,
      retriable: true,
    });
    expect((answer.error as Error).message).toContain('1000 ms');

    // Hence "may or may not be stored": the late acknowledgement still commits it.
    release();
    await publisher.drain();
    expect(keysOf(kafka.committed)).toEqual(['slow.example']);
  });

  it('times each request out at its own deadline, ackTimeoutMs after it came, and never one answered before', async () => {
    const { transactional, idempotent, publisher } = publisherWithIdempotentProducer({
      lingerMs: 0,
      ackTimeoutMs: 1000,
    });
    const releaseSingles = idempotent.holdAnswers();
    const first = watch(publisher.publish([message('first.example', 10)]));
    await jest.advanceTimersByTimeAsync(400);
    const batch = watch(publisher.publish([message('b.example', 10), message('c.example', 10)]));
    await jest.advanceTimersByTimeAsync(100);
    const second = watch(publisher.publish([message('second.example', 10)]));
    await jest.advanceTimersByTimeAsync(499);
    expect([first.state, batch.state, second.state]).toEqual(['pending', 'resolved', 'pending']);
    await jest.advanceTimersByTimeAsync(1);
    expect([first.state, second.state]).toEqual(['rejected', 'pending']);
    expect(first.error).toMatchObject({ code: errorCatalogue.timeout.code });
    await jest.advanceTimersByTimeAsync(499);
    expect(second.state).toBe('pending');
    await jest.advanceTimersByTimeAsync(1);
    expect(second.state).toBe('rejected');
    // Answered before: the batch stays answered 202, its transaction committed.
    expect(keysOf(transactional.committed)).toEqual(['b.example', 'c.example']);
    releaseSingles();
    await publisher.drain();
  });

  it('times requests out on a monotonic clock: a step of the wall clock neither delays nor hastens a timeout', async () => {
    const { kafka, publisher } = publisherOver({ lingerMs: 0, ackTimeoutMs: 1000 });
    const release = kafka.holdAnswers();
    const back = watch(publisher.publish([message('back.example', 10)]));
    await jest.advanceTimersByTimeAsync(100);
    // NTP steps the clock an hour back, then an hour forward again.
    jest.setSystemTime(Date.now() - 3_600_000);
    await jest.advanceTimersByTimeAsync(899);
    expect(back.state).toBe('pending');
    await jest.advanceTimersByTimeAsync(1);
    expect(back.state).toBe('rejected');
    const forward = watch(publisher.publish([message('forward.example', 10)]));
    jest.setSystemTime(Date.now() + 3_600_000);
    await jest.advanceTimersByTimeAsync(999);
    expect(forward.state).toBe('pending');
    await jest.advanceTimersByTimeAsync(1);
    expect(forward.state).toBe('rejected');
    release();
    await publisher.drain();
  });

  it('given requests answered out of order (a transaction held, single records stored), then each waiting request still times out at its own deadline', async () => {
    const { transactional, idempotent, publisher } = publisherWithIdempotentProducer({
      lingerMs: 0,
      ackTimeoutMs: 1000,
    });
    const releaseTransactions = transactional.holdAnswers();
    const batch = watch(publisher.publish([message('b.example', 10), message('c.example', 10)]));
    const stored = Array.from({ length: 500 }, (_, i) =>
      watch(publisher.publish([message(`s${i}.example`, 10)])),
    );
    await jest.advanceTimersByTimeAsync(300);
    expect(stored.every((s) => s.state === 'resolved')).toBe(true);
    const releaseSingles = idempotent.holdAnswers();
    const held = watch(publisher.publish([message('held.example', 10)]));
    await jest.advanceTimersByTimeAsync(700);
    expect([batch.state, held.state]).toEqual(['rejected', 'pending']);
    await jest.advanceTimersByTimeAsync(299);
    expect(held.state).toBe('pending');
    await jest.advanceTimersByTimeAsync(1);
    expect(held.state).toBe('rejected');
    expect(stored.every((s) => s.state === 'resolved')).toBe(true);
    releaseTransactions();
    releaseSingles();
    await publisher.drain();
  });

  it('given maxRequestBytes smaller than a request, when it is published, then its records go in several produce requests of one transaction', async () => {
    const { kafka, publisher } = publisherOver({ lingerMs: 0, maxRequestBytes: 600 });
    const records = ['a', 'b', 'c', 'd', 'e'].map((k) => message(`${k}.example`, 200));
    const answer = publisher.publish(records);
    await jest.advanceTimersByTimeAsync(0);
    await answer;
    expect(kafka.transactions).toHaveLength(1);
    const [transaction] = kafka.transactions;
    expect(transaction!.outcome).toBe('committed');
    expect(transaction!.requests.length).toBeGreaterThan(1);
    expect(transaction!.requests.flat()).toEqual(records);
    expect(kafka.committed).toEqual(records);
  });

  it('given a produce request fails after an earlier one of the same transaction succeeded, then the transaction aborts and none of the request is committed', async () => {
    const { kafka, publisher } = publisherOver({ lingerMs: 0, maxRequestBytes: 600 });
    kafka.failure = {
      at: 'send',
      afterRequests: 1,
      error: new KafkaJSConnectionError('Connection closed'),
    };
    const records = ['a', 'b', 'c', 'd', 'e'].map((k) => message(`${k}.example`, 200));
    const answer = watch(publisher.publish(records));
    await jest.advanceTimersByTimeAsync(0);
    expect(answer.state).toBe('rejected');
    expect(answer.error).toMatchObject({ code: errorCatalogue.unavailable.code });
    expect(kafka.transactions.map((t) => [t.requests.length, t.outcome])).toEqual([[2, 'aborted']]);
    expect(kafka.committed).toEqual([]);
    expect(kafka.replaced).toBe(1);
  });
  it('given requests sharing a transaction and one of them refused for good by Kafka, then each is sent again alone: the others are committed and only the refused one gets 500', async () => {
    const { kafka, publisher } = publisherOver({ lingerMs: 50 });
    kafka.failure = {
      at: 'send',
      error: refusedForGood(
        'MESSAGE_TOO_LARGE',
        10,
        'The request included a message larger than allowed',
      ),
      when: (messages) => messages.some((m) => m.key === 'too.large.example'),
    };
    const good = watch(publisher.publish([message('a.example', 10)]));
    const refused = watch(publisher.publish([message('too.large.example', 10)]));
    const other = watch(publisher.publish([message('b.example', 10)]));
    await jest.advanceTimersByTimeAsync(50);
    expect([good.state, refused.state, other.state]).toEqual(['resolved', 'rejected', 'resolved']);
    expect(refused.error).toMatchObject({ code: errorCatalogue.internal.code, statusCode: 500 });
    expect(keysOf(kafka.committed)).toEqual(['a.example', 'b.example']);
    expect(kafka.transactions.map((t) => t.outcome)).toEqual([
      'aborted',
      'committed',
      'aborted',
      'committed',
    ]);
  });
});

describe('the publisher while Kafka is known unreachable', () => {
  useFakeTimersInEach();

  /** A publisher whose background Kafka check fails while `check.down` is true. */
  function publisherWithCheck() {
    const check = { down: false };
    const over = publisherOver({
      lingerMs: 0,
      ackTimeoutMs: 1000,
      kafkaCheck: { failing: () => check.down },
    });
    return { ...over, check };
  }

  /** Publishes one record and lets the linger timer run: its answer, settled. */
  async function publishOne(publisher: Publisher, key: string) {
    const answer = publisher.publish([message(key, 10)]);
    const seen = watch(answer);
    await jest.advanceTimersByTimeAsync(0);
    expect(seen.state).not.toBe('pending');
    return answer;
  }

  it('given the Kafka check failing and the last request not acknowledged in time, when a request arrives, then it is refused at once with 503 CATCHALL_UNAVAILABLE and nothing of it is sent, while the request already waiting keeps waiting for its outcome', async () => {
    const { kafka, publisher, check } = publisherWithCheck();
    const release = kafka.holdAnswers();
    const first = watch(publisher.publish([message('first.example', 10)]));
    await jest.advanceTimersByTimeAsync(500);
    // Queued behind the transaction in flight: accepted before anything was known.
    const waiting = watch(publisher.publish([message('waiting.example', 10)]));
    check.down = true;
    await jest.advanceTimersByTimeAsync(500);
    expect(first.error).toMatchObject({ code: errorCatalogue.timeout.code });

    const refused = watch(publisher.publish([message('refused.example', 10)]));
    await jest.advanceTimersByTimeAsync(0);
    expect(refused.state).toBe('rejected');
    expect(refused.error).toMatchObject({
      code: errorCatalogue.unavailable.code,
      statusCode: 503,
      retriable: true,
      message: 'Kafka is unavailable; nothing was accepted, retry later',
    });
    expect(waiting.state).toBe('pending');

    // Kafka answers again: what was accepted is committed, the refused request never sent.
    release();
    await jest.advanceTimersByTimeAsync(0);
    expect(waiting.state).toBe('resolved');
    expect(keysOf(kafka.committed)).toEqual(['first.example', 'waiting.example']);
    expect(kafka.transactions.flatMap((t) => t.requests.flat()).map((m) => m.key)).not.toContain(
      'refused.example',
    );
  });

  it('given requests refused, then they stay refused past twice ackTimeoutMs while the check fails, and are sent again as soon as it passes', async () => {
    const { kafka, publisher, check } = publisherWithCheck();
    kafka.failure = { at: 'send', error: new KafkaJSConnectionError('Connection timeout') };
    check.down = true;
    await expect(publishOne(publisher, 'failed.example')).rejects.toMatchObject({
      code: errorCatalogue.unavailable.code,
    });
    await jest.advanceTimersByTimeAsync(5000);
    // Readiness forgets the failure without traffic; the refusal waits for the check.
    expect(publisher.failing()).toBe(false);
    const transactions = kafka.transactions.length;
    await expect(publishOne(publisher, 'refused.example')).rejects.toMatchObject({
      code: errorCatalogue.unavailable.code,
    });
    expect(kafka.transactions).toHaveLength(transactions);

    kafka.failure = undefined;
    check.down = false;
    await expect(publishOne(publisher, 'accepted.example')).resolves.toBeUndefined();
    expect(keysOf(kafka.committed)).toEqual(['accepted.example']);
  });

  it('given the Kafka check failing while transactions commit, then every request is sent: the check alone refuses nothing', async () => {
    const { kafka, publisher, check } = publisherWithCheck();
    check.down = true;
    const answers = [
      publisher.publish([message('a.example', 10)]),
      publisher.publish([message('b.example', 10)]),
    ];
    await jest.advanceTimersByTimeAsync(0);
    await expect(Promise.all(answers)).resolves.toEqual([undefined, undefined]);
    expect(keysOf(kafka.committed)).toEqual(['a.example', 'b.example']);
  });

  it('given a produce request failed but the Kafka check passing, then the next request is sent', async () => {
    const { kafka, publisher } = publisherWithCheck();
    kafka.failure = { at: 'send', error: new KafkaJSConnectionError('Connection closed') };
    await expect(publishOne(publisher, 'failed.example')).rejects.toMatchObject({
      code: errorCatalogue.unavailable.code,
    });
    expect(publisher.failing()).toBe(true);
    kafka.failure = undefined;
    await expect(publishOne(publisher, 'next.example')).resolves.toBeUndefined();
    expect(keysOf(kafka.committed)).toEqual(['next.example']);
  });

  it('given a transaction committed after the request that failed, then requests are sent although the check fails again', async () => {
    const { kafka, publisher, check } = publisherWithCheck();
    kafka.failure = { at: 'send', error: new KafkaJSConnectionError('Connection closed') };
    check.down = true;
    await expect(publishOne(publisher, 'failed.example')).rejects.toMatchObject({
      code: errorCatalogue.unavailable.code,
    });
    kafka.failure = undefined;
    check.down = false;
    await expect(publishOne(publisher, 'committed.example')).resolves.toBeUndefined();
    // The check fails again (a slow Metadata answer, say) while Kafka takes records.
    check.down = true;
    await expect(publishOne(publisher, 'after.example')).resolves.toBeUndefined();
    expect(keysOf(kafka.committed)).toEqual(['committed.example', 'after.example']);
  });
});

/**
 * A publisher over one in-memory transactional producer and one in-memory idempotent
 * producer (a second handle: its sends are plain produce requests), with these options.
 */
/** `promise`, once the timers due now have run (a linger of 0). */
const afterTimers = <T>(promise: Promise<T>): Promise<T> =>
  Promise.all([promise, jest.advanceTimersByTimeAsync(0)]).then(([value]) => value);

function publisherWithIdempotentProducer(options: Partial<PublisherOptions> = {}) {
  const transactional = createInMemoryProducerHandle();
  const idempotent = createInMemoryProducerHandle();
  const { publisher } = publisherOver({
    producers: [transactional],
    idempotentProducers: [idempotent],
    ...options,
  });
  return { transactional, idempotent, publisher };
}

describe('the publisher with idempotent producers for single records', () => {
  useFakeTimersInEach();

  it('sends requests of one record in one plain produce request, and requests of several in a transaction', async () => {
    const { transactional, idempotent, publisher } = publisherWithIdempotentProducer({
      lingerMs: 10,
    });
    const answers = [
      publisher.publish([message('a.example', 10)]),
      publisher.publish([message('b.example', 10), message('c.example', 10)]),
      publisher.publish([message('d.example', 10)], true),
    ];
    await jest.advanceTimersByTimeAsync(10);
    const [a, bc, d] = await Promise.all(answers);
    expect(idempotent.plainRequests.map(keysOf)).toEqual([['a.example', 'd.example']]);
    expect(idempotent.transactions).toEqual([]);
    expect(transactional.transactions.map((t) => t.requests.map(keysOf))).toEqual([
      [['b.example', 'c.example']],
    ]);
    expect(transactional.plainRequests).toEqual([]);
    expect([a, bc]).toEqual([undefined, undefined]);
    // The offset the in-memory broker gave d.example, in the partition it chose.
    const stored = idempotent.committed.find((m) => m.key === 'd.example')!;
    expect(d).toEqual(new Map([[stored.partition!, idempotent.logEnds[stored.partition!]! - 1]]));
  });

  it('sends single records in transactions when there is no idempotent producer', async () => {
    const { kafka, publisher } = publisherOver({ lingerMs: 0, idempotentProducers: [] });
    await afterTimers(publisher.publish([message('a.example', 10)]));
    expect(kafka.plainRequests).toEqual([]);
    expect(kafka.transactions.map((t) => t.requests.map(keysOf))).toEqual([[['a.example']]]);
  });

  it('sends a single record too large for a produce request in a transaction, as it sends requests of several records', async () => {
    const { transactional, idempotent, publisher } = publisherWithIdempotentProducer({
      lingerMs: 0,
      maxRequestBytes: 4096,
    });
    await afterTimers(
      Promise.all([
        publisher.publish([message('small.example', 10)]),
        publisher.publish([message('large.example', 5000)]),
      ]),
    );
    expect(idempotent.plainRequests.map(keysOf)).toEqual([['small.example']]);
    expect(transactional.transactions.map((t) => t.requests.map(keysOf))).toEqual([
      [['large.example']],
    ]);
  });

  it('given a produce request failing after the broker appended it, then each of its requests is answered 503 CATCHALL_COMMIT_UNKNOWN, never "nothing was accepted", and the producer is replaced', async () => {
    const { idempotent, publisher } = publisherWithIdempotentProducer({ lingerMs: 5 });
    idempotent.failure = {
      at: 'send',
      error: new KafkaJSConnectionError('Connection closed'),
      appendedAnyway: true,
    };
    const answers = [
      watch(publisher.publish([message('a.example', 10)])),
      watch(publisher.publish([message('b.example', 10)])),
    ];
    await jest.advanceTimersByTimeAsync(5);
    for (const answer of answers) {
      expect(answer.state).toBe('rejected');
      expect(answer.error).toMatchObject({
        code: errorCatalogue.commitUnknown.code,
        statusCode: 503,
        retriable: true,
      });
    }
    expect(keysOf(idempotent.committed)).toEqual(['a.example', 'b.example']);
    expect(idempotent.replaced).toBe(1);
    expect(publisher.failing()).toBe(true);

    // The next request goes out on the replacement, and a stored record clears the failure.
    idempotent.failure = undefined;
    const next = publisher.publish([message('c.example', 10)]);
    await jest.advanceTimersByTimeAsync(5);
    await expect(next).resolves.toBeUndefined();
    expect(publisher.failing()).toBe(false);
  });

  it('given a batch of single records over several produce requests and the second failing, then the first group is stored and answered, the failed group is in doubt and the groups never sent are answered "nothing was accepted"', async () => {
    const { idempotent, publisher } = publisherWithIdempotentProducer({
      lingerMs: 5,
      maxRequestBytes: 4096,
    });
    idempotent.failure = {
      at: 'send',
      error: new KafkaJSConnectionError('Connection closed'),
      afterRequests: 1,
    };
    // Each record about 1.5 KiB: two fit in a produce request of 4 KiB.
    const answers = ['a', 'b', 'c', 'd', 'e', 'f'].map((k) =>
      watch(publisher.publish([message(`${k}.example`, 1500)])),
    );
    await jest.advanceTimersByTimeAsync(5);
    expect(idempotent.plainRequests.map(keysOf)).toEqual([
      ['a.example', 'b.example'],
      ['c.example', 'd.example'],
    ]);
    expect(answers.map((a) => a.state)).toEqual([
      'resolved',
      'resolved',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
    ]);
    expect(answers.slice(2).map((a) => (a.error as { code: string }).code)).toEqual([
      errorCatalogue.commitUnknown.code,
      errorCatalogue.commitUnknown.code,
      errorCatalogue.unavailable.code,
      errorCatalogue.unavailable.code,
    ]);
    expect(keysOf(idempotent.committed)).toEqual(['a.example', 'b.example']);
  });

  it('given Kafka refusing a produce request for good, then its requests are answered 500 CATCHALL_INTERNAL', async () => {
    const { idempotent, publisher } = publisherWithIdempotentProducer({ lingerMs: 0 });
    idempotent.failure = {
      at: 'send',
      error: refusedForGood('TOPIC_AUTHORIZATION_FAILED', 29, 'Not authorized to access topics'),
    };
    await expect(afterTimers(publisher.publish([message('a.example', 10)]))).rejects.toMatchObject({
      code: errorCatalogue.internal.code,
      statusCode: 500,
    });
    expect(idempotent.committed).toEqual([]);
  });

  it('given Kafka refusing one record of a produce request for good, then every record of the request is answered 503 CATCHALL_COMMIT_UNKNOWN (others may be stored), and the refused one alone again gets 500', async () => {
    const { idempotent, publisher } = publisherWithIdempotentProducer({ lingerMs: 0 });
    const refusal = refusedForGood('INVALID_RECORD', 87, 'This record is invalid');
    idempotent.failure = {
      at: 'send',
      error: refusal,
      when: (messages) => messages.some((m) => m.key === 'bad.example'),
    };
    const answers = ['a', 'bad', 'c'].map((k) =>
      watch(publisher.publish([message(`${k}.example`, 10)])),
    );
    await jest.advanceTimersByTimeAsync(0);
    expect(idempotent.plainRequests.map(keysOf)).toEqual([
      ['a.example', 'bad.example', 'c.example'],
    ]);
    for (const answer of answers) {
      expect(answer.state).toBe('rejected');
      expect(answer.error).toMatchObject({
        code: errorCatalogue.commitUnknown.code,
        statusCode: 503,
        retriable: true,
      });
    }
    // The clients retry, each alone: only the refused record is refused.
    const retry = async (key: string) => {
      const answer = watch(publisher.publish([message(key, 10)]));
      await jest.advanceTimersByTimeAsync(1);
      return answer.state === 'rejected' ? (answer.error as { code: string }).code : answer.state;
    };
    expect(await retry('a.example')).toBe('resolved');
    expect(await retry('bad.example')).toBe(errorCatalogue.internal.code);
    expect(await retry('c.example')).toBe('resolved');
  });

  it('given no connected producer, then the request is answered 503 CATCHALL_UNAVAILABLE: nothing was sent', async () => {
    const { idempotent, publisher } = publisherWithIdempotentProducer({ lingerMs: 0 });
    idempotent.get = () => Promise.reject(new KafkaJSConnectionError('Connection refused'));
    await expect(afterTimers(publisher.publish([message('a.example', 10)]))).rejects.toMatchObject({
      code: errorCatalogue.unavailable.code,
      statusCode: 503,
    });
    expect(idempotent.plainRequests).toEqual([]);
  });

  it('while every idempotent producer has a produce request in flight, gathers the next single records and sends them together when one returns', async () => {
    const { idempotent, publisher } = publisherWithIdempotentProducer({ lingerMs: 0 });
    const release = idempotent.holdAnswers();
    const first = publisher.publish([message('a.example', 10)]);
    await jest.advanceTimersByTimeAsync(0);
    const later = [
      publisher.publish([message('b.example', 10)]),
      publisher.publish([message('c.example', 10)]),
    ];
    await jest.advanceTimersByTimeAsync(0);
    expect(idempotent.plainRequests.map(keysOf)).toEqual([['a.example']]);
    release();
    await Promise.all([first, ...later]);
    expect(idempotent.plainRequests.map(keysOf)).toEqual([
      ['a.example'],
      ['b.example', 'c.example'],
    ]);
  });

  it('drains both kinds of producer', async () => {
    const { transactional, idempotent, publisher } = publisherWithIdempotentProducer({
      lingerMs: 60_000,
    });
    const answers = [
      publisher.publish([message('a.example', 10)]),
      publisher.publish([message('b.example', 10), message('c.example', 10)]),
    ];
    await publisher.drain();
    await Promise.all(answers);
    expect(keysOf(idempotent.committed)).toEqual(['a.example']);
    expect(keysOf(transactional.committed)).toEqual(['b.example', 'c.example']);
  });
});
