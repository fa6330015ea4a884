import { DEFAULT_CATCH_ALL_THRESHOLD, domainStatus } from './status';

describe('domainStatus', () => {
  it('is unknown for a domain with no events', () => {
    expect(domainStatus({ delivered: 0, bounced: 0 })).toBe('unknown');
  });

  it('is still unknown at exactly the threshold of 1000 deliveries', () => {
    expect(DEFAULT_CATCH_ALL_THRESHOLD).toBe(1000);
    expect(domainStatus({ delivered: 1000, bounced: 0 })).toBe('unknown');
  });

  it('is catch-all above the threshold with no bounce', () => {
    expect(domainStatus({ delivered: 1001, bounced: 0 })).toBe('catch-all');
  });

  it('is not catch-all after any bounce, however many deliveries', () => {
    expect(domainStatus({ delivered: 0, bounced: 1 })).toBe('not catch-all');
    expect(domainStatus({ delivered: 1_000_000, bounced: 1 })).toBe('not catch-all');
  });

  it('follows a configured threshold', () => {
    expect(domainStatus({ delivered: 11, bounced: 0 }, 10)).toBe('catch-all');
    expect(domainStatus({ delivered: 10, bounced: 0 }, 10)).toBe('unknown');
  });
});
