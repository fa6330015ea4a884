import { normalizeDomain } from './normalize-domain';

function normalized(input: string): string {
  const result = normalizeDomain(input);
  if (!result.ok) throw new Error(`expected ${input} to be valid, got: ${result.reason}`);
  return result.domain;
}

function reason(input: string): string {
  const result = normalizeDomain(input);
  if (result.ok) throw new Error(`expected ${input} to be rejected, got ${result.domain}`);
  return result.reason;
}

describe('normalizeDomain', () => {
  it('trims, lower-cases and removes one trailing dot', () => {
    expect(normalized('  Example.COM. ')).toBe('example.com');
  });

  it('removes only one trailing dot', () => {
    expect(reason('example.com..')).toMatch(/empty label/);
  });

  it('converts internationalized names to punycode', () => {
    expect(normalized('Bücher.DE')).toBe('xn--bcher-kva.de');
    expect(normalized('例え.テスト')).toBe('xn--r8jz45g.xn--zckzah');
  });

  it('keeps valid punycode as it is and rejects invalid punycode', () => {
    expect(normalized('xn--bcher-kva.de')).toBe('xn--bcher-kva.de');
    expect(reason('xn--a.com')).toMatch(/internationalized/);
  });

  it('accepts digits, hyphens inside labels and single-label names', () => {
    expect(normalized('mail-1.example-2.co.uk')).toBe('mail-1.example-2.co.uk');
    expect(normalized('localhost')).toBe('localhost');
  });

  it('rejects empty input', () => {
    expect(reason('')).toMatch(/empty/);
    expect(reason('   ')).toMatch(/empty/);
    expect(reason('.')).toMatch(/empty/);
  });

  it('rejects labels that start or end with a hyphen', () => {
    expect(reason('-example.com')).toMatch(/hyphen/);
    expect(reason('example-.com')).toMatch(/hyphen/);
  });

  it('rejects characters outside letters, digits and hyphens', () => {
    expect(reason('exa_mple.com')).toMatch(/only letters/);
    expect(reason('exa mple.com')).toMatch(/only letters|internationalized/);
    expect(reason('user@example.com')).toMatch(/only letters|internationalized/);
  });

  it('rejects a leading dot and doubled dots', () => {
    expect(reason('.example.com')).toMatch(/empty label/);
    expect(reason('example..com')).toMatch(/empty label/);
  });

  it('enforces 63 characters per label and 253 in all', () => {
    const label63 = 'a'.repeat(63);
    expect(normalized(`${label63}.com`)).toBe(`${label63}.com`);
    expect(reason(`${'a'.repeat(64)}.com`)).toMatch(/longer than 63/);
    const name253 = [label63, label63, label63, 'a'.repeat(61)].join('.');
    expect(name253).toHaveLength(253);
    expect(normalized(name253)).toBe(name253);
    expect(reason(`${name253}a`)).toMatch(/longer than 253/);
  });

  it('accepts 253 characters plus the trailing dot', () => {
    const name253 = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.');
    expect(normalized(`${name253}.`)).toBe(name253);
  });
});
