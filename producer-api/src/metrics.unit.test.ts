import { errorCatalogue } from '@catchall/core';
import { freshMetricsText } from '../../test/support/metrics-text';
import { createProducerMetrics, INGEST_REFUSAL_CODES } from './metrics';

describe('createProducerMetrics', () => {
  it('exports the accepted-events counter of each event type at 0 from the start', async () => {
    const text = await freshMetricsText(createProducerMetrics);
    expect(text).toContain('catchall_events_accepted_total{type="delivered"} 0');
    expect(text).toContain('catchall_events_accepted_total{type="bounced"} 0');
  });

  it('exports the refusal counter of every code the ingest routes answer at 0 from the start, so that the first refusal is an increase', async () => {
    const text = await freshMetricsText(createProducerMetrics);
    for (const reason of INGEST_REFUSAL_CODES) {
      expect(text).toContain(`catchall_events_rejected_total{reason="${reason}"} 0`);
    }
    expect(INGEST_REFUSAL_CODES).toContain(errorCatalogue.invalidDomain.code);
    expect(INGEST_REFUSAL_CODES).toContain(errorCatalogue.overloaded.code);
  });
});
