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

  it('accepts exactly the ASCII names the RFC 1123 rules allow (10,000 random names)', () => {
    // The rules spelled out once more, label by label, for names without punycode.
    const valid = (name: string) =>
      name.length >= 1 &&
      name.length <= 253 &&
      name
        .split('.')
        .every((l) => /^[a-z0-9-]{1,63}$/.test(l) && !l.startsWith('-') && !l.endsWith('-')) &&
      !/^[0-9]+$/.test(name.split('.').pop()!);
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pieces = ['a', 'Z', '7', '-', '.', 'x'.repeat(30), 'q'.repeat(62), ' ', '42'];
    let accepted = 0;
    for (let i = 0; i < 10_000; i += 1) {
      let input = '';
      const n = 1 + Math.floor(random() * 12);
      for (let j = 0; j < n; j += 1) input += pieces[Math.floor(random() * pieces.length)];
      const name = input.trim().toLowerCase().replace(/\.$/, '');
      const result = normalizeDomain(input);
      expect({ input, ok: result.ok }).toEqual({ input, ok: valid(name) });
      if (result.ok) expect(result.domain).toBe(name);
      if (result.ok) accepted += 1;
    }
    // Both answers are well represented among the random names.
    expect(accepted).toBeGreaterThan(1000);
    expect(accepted).toBeLessThan(9000);
  });

  it('rejects an all-numeric top-level label (RFC 1123 section 2.1), not digits elsewhere', () => {
    expect(reason('1.2.3.4')).toMatch(/all-numeric top-level label/);
    expect(reason('example.123')).toMatch(/all-numeric top-level label/);
    expect(reason('Example.123.')).toMatch(/all-numeric top-level label/);
    expect(reason('12345')).toMatch(/all-numeric top-level label/);
    expect(normalized('123.example.com')).toBe('123.example.com');
    expect(normalized('example.c0m')).toBe('example.c0m');
    expect(normalized('1.2.3.4a')).toBe('1.2.3.4a');
  });

  it('takes a name of 253 characters in any raw form: Unicode, padded, with a trailing dot', () => {
    // 63 code points per label, each of them 3 UTF-8 bytes: the longest Unicode labels.
    const label = 'ü'.repeat(20);
    const unicode = [label, label, label, label, label, label, label].join('.') + '.de. ';
    const result = normalizeDomain(`   ${unicode}`);
    expect(result.ok && result.domain.length).toBeLessThanOrEqual(253);
    const long = `${' '.repeat(1000)}example.com`;
    expect(long.length).toBeGreaterThan(1000);
    expect(normalized(long)).toBe('example.com');
  });

  it('rejects input longer than 1024 characters as sent, saying so', () => {
    expect(reason(`${' '.repeat(1020)}example.com`)).toMatch(/longer than 1024 characters as sent/);
  });
});
