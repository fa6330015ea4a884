import { freshMetricsText } from '../../test/support/metrics-text';
import { createConsumerMetrics } from './metrics';
import { DEAD_LETTER_REASONS } from './record-decoder';

describe('createConsumerMetrics', () => {
  it('exports the dead-letter counter of every reason at 0 from the start, so that the first dead letter is an increase', async () => {
    const text = await freshMetricsText(createConsumerMetrics);
    for (const reason of DEAD_LETTER_REASONS) {
      expect(text).toContain(`catchall_records_dead_lettered_total{reason="${reason}"} 0`);
    }
    expect(DEAD_LETTER_REASONS).toHaveLength(7);
  });

  it('exports the applied-events counter of each event type at 0 from the start', async () => {
    const text = await freshMetricsText(createConsumerMetrics);
    expect(text).toContain('catchall_events_applied_total{type="delivered"} 0');
    expect(text).toContain('catchall_events_applied_total{type="bounced"} 0');
  });
});
