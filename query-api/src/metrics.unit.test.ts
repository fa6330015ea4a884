import { Registry } from 'prom-client';
import { CONSISTENCY_WAIT_OUTCOMES, createQueryMetrics } from './metrics';

describe('createQueryMetrics', () => {
  it('exports the consistency-wait counter of every outcome at 0 from the start', async () => {
    const registry = new Registry();
    createQueryMetrics(registry);
    const text = await registry.metrics();
    for (const outcome of CONSISTENCY_WAIT_OUTCOMES) {
      expect(text).toContain(`catchall_consistency_waits_total{outcome="${outcome}"} 0`);
    }
    expect(CONSISTENCY_WAIT_OUTCOMES).toHaveLength(5);
  });
});
