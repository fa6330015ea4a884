import { prefersMinimal } from './batch';

describe('the Prefer header (RFC 7240) of POST /events', () => {
  it('asks for the count only with return=minimal, alone or among other preferences', () => {
    expect(prefersMinimal('return=minimal')).toBe(true);
    expect(prefersMinimal('Return = "minimal"')).toBe(true);
    expect(prefersMinimal('respond-async, return=minimal; charset=utf-8')).toBe(true);
    expect(prefersMinimal(['wait=10', 'return=minimal'])).toBe(true);
  });

  it('keeps the full answer otherwise', () => {
    expect(prefersMinimal(undefined)).toBe(false);
    expect(prefersMinimal('')).toBe(false);
    expect(prefersMinimal('return=representation')).toBe(false);
    expect(prefersMinimal('minimal')).toBe(false);
    expect(prefersMinimal('handling=lenient, wait=5')).toBe(false);
  });
});
