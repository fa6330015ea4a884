/** The event types the product counts. The Avro enum adds `unknown` as its default. */
export const EVENT_TYPES = ['delivered', 'bounced'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}
