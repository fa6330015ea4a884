import { ConfigError } from '@catchall/core';
import { loadProducerConfig } from './config';

describe('the ingest API configuration', () => {
  it('runs one process by default', () => {
    expect(loadProducerConfig({}).WORKERS).toBe(1);
  });

  it('takes several workers, or a rate limit', () => {
    expect(loadProducerConfig({ WORKERS: '2' }).WORKERS).toBe(2);
    expect(loadProducerConfig({ RATE_LIMIT_PER_MINUTE: '600' }).RATE_LIMIT_PER_MINUTE).toBe(600);
  });

  it('refuses a rate limit with several workers, which would each count on their own', () => {
    const both = { WORKERS: '2', RATE_LIMIT_PER_MINUTE: '600' };
    expect(() => loadProducerConfig(both)).toThrow(ConfigError);
    expect(() => loadProducerConfig(both)).toThrow(/RATE_LIMIT_PER_MINUTE needs WORKERS=1/);
  });
});
