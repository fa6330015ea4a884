import { ConfigError, deadLetterTopic } from '@catchall/core';

/**
 * A topic the dlq tools need does not exist: the dead-letter topic `<EVENTS_TOPIC>.dlq`, or,
 * for redrive, the events topic itself. A configuration error (CATCHALL_INVALID_CONFIG, exit
 * code 2): EVENTS_TOPIC names another topic than the projector's, or the topics were never
 * created. Running again unchanged cannot mend it, unlike Kafka not answering.
 */
export class TopicMissing extends ConfigError {}

/**
 * The topics a dlq command reads or writes: the dead-letter topic, and for `redrive` the
 * events topic it writes the copies to.
 */
export function topicsOf(command: string, eventsTopic: string): string[] {
  const deadLetters = deadLetterTopic(eventsTopic);
  return command === 'redrive' ? [deadLetters, eventsTopic] : [deadLetters];
}

/**
 * Throws a TopicMissing naming each topic of `missing` (among topicsOf), the EVENTS_TOPIC it
 * comes from, the brokers asked and what to do; nothing when `missing` is empty.
 */
export function checkTopicsExist(
  missing: readonly string[],
  config: { EVENTS_TOPIC: string; KAFKA_BROKERS: string },
): void {
  if (missing.length === 0) return;
  const events = config.EVENTS_TOPIC;
  const what = missing.map((topic) =>
    topic === events
      ? `the events topic ${topic} (EVENTS_TOPIC), which redrive writes to, does not exist`
      : `the dead-letter topic ${topic} (EVENTS_TOPIC "${events}" and .dlq) does not exist`,
  );
  throw new TopicMissing(
    `${what.join('; ')} at ${config.KAFKA_BROKERS}: set EVENTS_TOPIC to the projector's events topic, or create the topics with npm run setup`,
  );
}
