import { foldEvents, normalizeDomain, type CountedEvent } from '@catchall/core';
import { createEventDecoder } from '@catchall/schemas';
import { testInfra } from './env';
import { readAll } from './kafka';

/**
 * The counts the read model must hold, computed straight from the topic: every record
 * decoded, normalized and folded, with no projector code in between.
 */
export async function countsFromTopic(
  topic: string,
): Promise<Map<string, { delivered: number; bounced: number }>> {
  const decoder = createEventDecoder({ registryUrl: testInfra().registryUrl });
  const events: { domain: string; event: CountedEvent }[] = [];
  for (const record of await readAll(topic, 60000)) {
    const value = await decoder.decode(record.message.value);
    const normalized = normalizeDomain(value.domain);
    if (!normalized.ok || value.type === 'unknown') continue;
    events.push({
      domain: normalized.domain,
      event: { type: value.type, occurredAt: value.occurredAt },
    });
  }
  const folded = foldEvents(events);
  return new Map([...folded].map(([d, x]) => [d, { delivered: x.delivered, bounced: x.bounced }]));
}
