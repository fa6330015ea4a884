/** The topic every domain event is appended to, keyed by the normalized domain. */
export const DEFAULT_EVENTS_TOPIC = 'domain-events';

/** Records the projector cannot apply go here, with the reason in headers. */
export function deadLetterTopic(eventsTopic: string): string {
  return `${eventsTopic}.dlq`;
}
