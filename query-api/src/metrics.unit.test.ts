import { freshMetricsText } from '../../test/support/metrics-text';
import { CONSISTENCY_WAIT_OUTCOMES, createQueryMetrics } from './metrics';

describe('createQueryMetrics', () => {
  it('exports the consistency-wait counter of every outcome at 0 from the start', async () => {
    const text = await freshMetricsText(createQueryMetrics);
    for (const outcome of CONSISTENCY_WAIT_OUTCOMES) {
      expect(text).toContain(`catchall_consistency_waits_total{outcome="${outcome}"} 0`);
    }
    expect(CONSISTENCY_WAIT_OUTCOMES).toHaveLength(5);
  });
});
