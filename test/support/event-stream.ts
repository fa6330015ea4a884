import { createIdempotentProducer } from '@catchall/core';
import { encoderFor, toEvent } from './events';
import { testKafka } from './kafka';

export interface EventStream {
  /** Stops producing; resolves with the number of events appended. */
  stop(): Promise<number>;
}

/** Appends batches of events to the topic at a steady pace until stopped (bounded by maxEvents). */
export async function streamEvents(
  topic: string,
  options: { batch: number; everyMs: number; domains: number; maxEvents: number },
): Promise<EventStream> {
  const encoder = await encoderFor(topic);
  const producer = createIdempotentProducer(testKafka());
  await producer.connect();
  let sent = 0;
  let running = true;
  const loop = (async () => {
    while (running && sent < options.maxEvents) {
      const messages = Array.from({ length: options.batch }, (_, i) => {
        const n = sent + i;
        const domain = `stream-${(n * 7919) % options.domains}.example`;
        const event = toEvent({ domain, type: n % 11 === 5 ? 'bounced' : 'delivered' });
        return { key: domain, value: encoder.encode(event) };
      });
      await producer.send({ topic, acks: -1, messages });
      sent += messages.length;
      await new Promise((r) => setTimeout(r, options.everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await producer.disconnect();
      return sent;
    },
  };
}
