import type { Producer } from 'kafkajs';
import { formatConsistencyToken } from '@catchall/core';
import type { EventEncoder } from '@catchall/schemas';
import { latencyHistogram } from './report';

/**
 * Read-your-writes probes: each produces one event alone, as a direct producer, builds the
 * consistency token from its delivery report and reads the domain back through the query
 * API with it. Latency: from Kafka's ack to the query API's 200.
 */
export function tokenReads(options: {
  producer: Producer;
  topic: string;
  encoder: EventEncoder;
  queryUrl: string;
}) {
  const latency = latencyHistogram();
  let probes = 0;
  const failures = new Map<number, number>();
  return {
    async probe(): Promise<void> {
      const domain = `token-probe-${(probes += 1)}.example`;
      const value = options.encoder.encode({
        eventId: domain,
        domain,
        type: 'delivered',
        occurredAt: Date.now(),
        source: null,
      });
      // One record per send: the report's base offset is the record's own offset.
      const [report] = await options.producer.send({
        topic: options.topic,
        acks: -1,
        messages: [{ key: domain, value }],
      });
      const acked = performance.now();
      const token = formatConsistencyToken(
        options.topic,
        new Map([[report!.partition, Number(report!.baseOffset)]]),
      );
      const response = await fetch(`${options.queryUrl}/domains/${domain}`, {
        headers: { 'consistency-token': token },
      });
      await response.arrayBuffer();
      if (response.status === 200) latency.record(performance.now() - acked);
      else failures.set(response.status, (failures.get(response.status) ?? 0) + 1);
    },
    /** p50/p95/p99 in ms of the probes answered 200, and the others by status. */
    summary: () => ({ probes, failures: Object.fromEntries(failures), ...latency.summary() }),
  };
}
