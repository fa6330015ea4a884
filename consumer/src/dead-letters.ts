import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { producerFailure, type ProducerHandle } from '@catchall/core';
import type { DeadLetterReason } from './record-decoder';
import { DEAD_LETTER_HEADERS } from './redrive';

/** A refused record, where it came from, and why. */
export interface DeadLetter {
  topic: string;
  partition: number;
  message: KafkaMessage;
  reason: DeadLetterReason;
  detail: string;
}

export interface DeadLetters {
  /**
   * Appends the records to the dead-letter topic, in order, with why each was refused;
   * resolves once Kafka acknowledged all of them (acks=all), rejects if any send failed.
   */
  send(letters: DeadLetter[]): Promise<void>;
}

/**
 * Bytes of dead letters per produce request at most: under the broker's default
 * `message.max.bytes` (1 MiB) for the record batch a partition gets, whatever the records.
 */
const MAX_SEND_BYTES = 512 * 1024;

/**
 * A record's key, value and headers are kept in its dead letter up to this size together:
 * under the broker's default `message.max.bytes` (1 MiB) whatever the dead-letter topic's own
 * limit. A larger record (compressed far below the events topic's limit, say, or with
 * thousands of headers) is dead-lettered with the reason and origin only; the original stays
 * in the events topic at the offset the headers name, and `dlq-original-bytes` says how
 * large it was.
 */
const MAX_KEPT_BYTES = 900 * 1024;

function headerBytes(headers: KafkaMessage['headers']): number {
  let size = 0;
  for (const [name, value] of Object.entries(headers ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) size += name.length + 8 + (v?.length ?? 0);
  }
  return size;
}

function bodyBytes(message: KafkaMessage): number {
  return (message.key?.length ?? 0) + (message.value?.length ?? 0) + headerBytes(message.headers);
}

/**
 * A record's headers without those named like the ones a dead letter gets (DEAD_LETTER_HEADERS):
 * a producer may write any header, and one of ours it wrote must not speak for the projector
 * (a `dlq-original-bytes` would say the body was not kept). Keeps headers without a prototype.
 */
function withoutOurs(headers: IHeaders | undefined): IHeaders {
  const kept = Object.create(null) as IHeaders;
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!OURS.has(name)) kept[name] = value;
  }
  return kept;
}

const OURS = new Set<string>(DEAD_LETTER_HEADERS);

/** The dead letter of a record: its key, value and headers kept unless `keep` says no. */
function toMessage(letter: DeadLetter, keep = true): Message {
  const { message } = letter;
  const bytes = bodyBytes(message);
  const kept = keep && bytes <= MAX_KEPT_BYTES;
  return {
    key: kept ? message.key : null,
    value: kept ? message.value : null,
    headers: {
      ...(kept ? withoutOurs(message.headers) : { 'dlq-original-bytes': String(bytes) }),
      'dlq-reason': letter.reason,
      'dlq-detail': letter.detail.slice(0, 1000),
      'dlq-original-topic': letter.topic,
      'dlq-original-partition': String(letter.partition),
      'dlq-original-offset': message.offset,
      'dlq-original-timestamp': message.timestamp,
    },
  };
}

function sizeOf(letter: DeadLetter): number {
  const bytes = bodyBytes(letter.message);
  return 1200 + (bytes <= MAX_KEPT_BYTES ? bytes : 0);
}

/**
 * True when the broker refused a send for its size (MESSAGE_TOO_LARGE, code 10, or
 * RECORD_LIST_TOO_LARGE, code 18, Kafka's protocol error codes), however kafkajs wrapped it.
 */
function isTooLarge(err: unknown): boolean {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth += 1) {
    const type = (e as { type?: unknown }).type;
    if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Keeps the original key, value and headers, and adds the reason and the record's origin
 * so that an operator can inspect, fix and re-publish it. A fetched batch's dead letters go
 * out together, in as few produce requests as fit under MAX_SEND_BYTES each (a storm of bad
 * records costs a request per half megabyte, not a round trip per record). A chunk the
 * broker refuses for its size (a dead-letter topic whose `max.message.bytes` is below the
 * events topic's) is sent again one letter at a time, and a letter still too large without
 * its key, value and original headers (as a record past MAX_KEPT_BYTES is).
 */
export function createDeadLetters(options: {
  producer: ProducerHandle;
  topic: string;
}): DeadLetters {
  async function sendChunk(messages: Message[]): Promise<void> {
    const producer = await options.producer.get();
    await producer.send({ topic: options.topic, acks: -1, messages }).catch((err: unknown) => {
      // A failed send poisons the idempotent producer (see ProducerHandle.replace); a
      // failure the new producer mends is retriable.
      options.producer.replace(producer);
      throw producerFailure(err);
    });
  }

  async function sendLetters(chunk: DeadLetter[]): Promise<void> {
    try {
      await sendChunk(chunk.map((letter) => toMessage(letter)));
    } catch (err) {
      if (!isTooLarge(err)) throw err;
      for (const letter of chunk) {
        try {
          await sendChunk([toMessage(letter)]);
        } catch (alone) {
          if (!isTooLarge(alone)) throw alone;
          await sendChunk([toMessage(letter, false)]);
        }
      }
    }
  }

  return {
    async send(letters) {
      let chunk: DeadLetter[] = [];
      let bytes = 0;
      for (const letter of letters) {
        const size = sizeOf(letter);
        if (chunk.length > 0 && bytes + size > MAX_SEND_BYTES) {
          await sendLetters(chunk);
          chunk = [];
          bytes = 0;
        }
        chunk.push(letter);
        bytes += size;
      }
      if (chunk.length > 0) await sendLetters(chunk);
    },
  };
}
