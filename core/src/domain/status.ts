/** A domain is a catch-all once it has accepted more than this many deliveries. */
export const DEFAULT_CATCH_ALL_THRESHOLD = 1000;

export const DOMAIN_STATUSES = ['catch-all', 'not catch-all', 'unknown'] as const;
export type DomainStatus = (typeof DOMAIN_STATUSES)[number];

export interface DomainCounts {
  delivered: number;
  bounced: number;
}

/**
 * The status rule: any bounce makes a domain `not catch-all`; more than `threshold`
 * deliveries with no bounce make it a `catch-all` (exactly `threshold` is still unknown).
 */
export function domainStatus(
  counts: DomainCounts,
  threshold: number = DEFAULT_CATCH_ALL_THRESHOLD,
): DomainStatus {
  if (counts.bounced > 0) return 'not catch-all';
  if (counts.delivered > threshold) return 'catch-all';
  return 'unknown';
}

/**
 * The same rule as an SQL expression, for the projector's upsert (which stores the status
 * beside the counts). Arguments are SQL expressions; a test checks both agree.
 */
export function domainStatusSql(delivered: string, bounced: string, threshold: string): string {
  return (
    `(CASE WHEN (${bounced}) > 0 THEN 'not catch-all' ` +
    `WHEN (${delivered}) > (${threshold}) THEN 'catch-all' ` +
    `ELSE 'unknown' END)::domain_status`
  );
}
