/**
 * V8 options the ingest API runs with, given to node at start (they size the heap when the
 * process begins, so a setting read later could not apply them).
 *
 * `--max-semi-space-size=64` (MB): the young generation's two semi-spaces may each grow to
 * 64 MB instead of Node 20's 16. The ingest API allocates a few KB per event (the parsed
 * JSON, the Avro buffers, kafkajs's record encoding) and keeps almost none of it past the
 * request, so most of its garbage collection is scavenges of the young generation, whose
 * cost follows how often they run rather than how much dies. With 64 MB they run a quarter
 * as often: batches of 1,000 events cost 20 to 25 % less of the API's CPU per event
 * (`bench:ingest`, alternated runs, docs/benchmarks.md). The price is memory: up to about
 * 3 × 64 MB of young generation per process (V8 reserves the two semi-spaces and a
 * promotion area), against 48 MB.
 */
export const INGEST_NODE_OPTIONS = '--max-semi-space-size=64';

/**
 * NODE_OPTIONS for a service started with `options` (`--flag=value` words separated by
 * spaces): ours first, then what the environment held (`existing`), since V8 keeps the last
 * value of an option given twice, so an operator's own NODE_OPTIONS still wins.
 */
export function withNodeOptions(options: string, existing: string | undefined): string {
  return [options, existing ?? ''].join(' ').trim();
}
