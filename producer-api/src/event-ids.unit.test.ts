import { newEventId } from './event-ids';

describe('generated event ids', () => {
  it('are version 4 UUIDs (RFC 9562), in lower case', () => {
    for (let i = 0; i < 1000; i += 1) {
      expect(newEventId()).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    }
  });

  it('do not repeat, across many refills', () => {
    const ids = new Set(Array.from({ length: 20_000 }, () => newEventId()));
    expect(ids.size).toBe(20_000);
  });

  it('use every hex digit in the random positions', () => {
    const digits = new Set(
      Array.from({ length: 200 }, () => newEventId().slice(0, 8))
        .join('')
        .split(''),
    );
    expect([...digits].sort().join('')).toBe('0123456789abcdef');
  });
});
