import { errorCatalogue, type ErrorDefinition } from '@catchall/core';
import { freshMetricsText } from '../../test/support/metrics-text';
import { createProducerMetrics } from './metrics';

/** The `reason` values of the refusal counter's series at 0 in a metrics text. */
function refusalSeriesAtZero(text: string): string[] {
  return [...text.matchAll(/^catchall_events_rejected_total\{reason="([^"]+)"\} 0$/gm)].map(
    (m) => m[1]!,
  );
}

describe('createProducerMetrics', () => {
  it('exports the accepted-events counter of each event type at 0 from the start', async () => {
    const text = await freshMetricsText(createProducerMetrics);
    expect(text).toContain('catchall_events_accepted_total{type="delivered"} 0');
    expect(text).toContain('catchall_events_accepted_total{type="bounced"} 0');
  });

  it('exports the refusal counter of every code the catalogue says the ingest routes answer at 0 from the start, and no other, so that the first refusal is an increase', async () => {
    const ingestCodes = (Object.values(errorCatalogue) as ErrorDefinition[])
      .filter((entry) => entry.answeredBy?.includes('ingest'))
      .map((entry) => entry.code);
    const text = await freshMetricsText(createProducerMetrics);
    expect(refusalSeriesAtZero(text).sort()).toEqual([...ingestCodes].sort());
    // Answered by the ingest routes (a Transfer-Encoding they refuse, a Content-Length that
    // does not match the body), and once missing from the series exported at 0.
    expect(ingestCodes).toEqual(
      expect.arrayContaining([
        errorCatalogue.unsupportedTransferCoding.code,
        errorCatalogue.badRequest.code,
        errorCatalogue.invalidDomain.code,
        errorCatalogue.overloaded.code,
      ]),
    );
    // The query API's own codes are not the ingest API's.
    expect(ingestCodes).not.toContain(errorCatalogue.domainNotSeen.code);
  });
});
