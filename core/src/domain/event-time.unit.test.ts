import { isEventTime, parseEventTime } from './event-time';

describe('parseEventTime (RFC 3339 date-time)', () => {
  it('reads UTC and offset times as epoch milliseconds', () => {
    expect(parseEventTime('2024-05-01T12:00:00Z')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseEventTime('2024-05-01T14:00:00+02:00')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseEventTime('2024-05-01T07:30:00-04:30')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseEventTime('2024-05-01T12:00:00-00:00')).toBe(Date.UTC(2024, 4, 1, 12));
  });

  it('takes t and z in lower case (RFC 3339 section 5.6)', () => {
    expect(parseEventTime('2024-05-01t12:00:00z')).toBe(Date.UTC(2024, 4, 1, 12));
  });

  it('keeps milliseconds and truncates finer fractions', () => {
    expect(parseEventTime('2024-05-01T12:00:00.5Z')).toBe(Date.UTC(2024, 4, 1, 12, 0, 0, 500));
    expect(parseEventTime('2024-05-01T12:00:00.123987654Z')).toBe(
      Date.UTC(2024, 4, 1, 12, 0, 0, 123),
    );
  });

  it('reads a leap second as second 59 of its minute, fraction kept', () => {
    expect(parseEventTime('2016-12-31T23:59:60Z')).toBe(Date.UTC(2016, 11, 31, 23, 59, 59));
    expect(parseEventTime('2016-12-31T23:59:60.250Z')).toBe(
      Date.UTC(2016, 11, 31, 23, 59, 59, 250),
    );
    expect(parseEventTime('2016-12-31T15:59:60-08:00')).toBe(Date.UTC(2016, 11, 31, 23, 59, 59));
  });

  it('reads years 0000 to 0099 as themselves, not as 19xx', () => {
    const t = parseEventTime('0050-01-01T00:00:00Z')!;
    expect(new Date(t).getUTCFullYear()).toBe(50);
    expect(parseEventTime('0000-01-01T00:00:00Z')).toBe(-62167219200000);
    expect(parseEventTime('9999-12-31T23:59:59.999Z')).toBe(253402300799999);
  });

  it('checks the calendar: month lengths and leap years', () => {
    expect(isEventTime('2024-02-29T00:00:00Z')).toBe(true);
    expect(isEventTime('2023-02-29T00:00:00Z')).toBe(false);
    expect(isEventTime('1900-02-29T00:00:00Z')).toBe(false);
    expect(isEventTime('2000-02-29T00:00:00Z')).toBe(true);
    expect(isEventTime('2024-04-31T00:00:00Z')).toBe(false);
    expect(isEventTime('2024-13-01T00:00:00Z')).toBe(false);
    expect(isEventTime('2024-00-01T00:00:00Z')).toBe(false);
  });

  it('refuses what RFC 3339 does not allow', () => {
    for (const text of [
      '2024-05-01 12:00:00Z',
      '2024-05-01T12:00:00',
      '2024-05-01T24:00:00Z',
      '2024-05-01T12:60:00Z',
      '2024-05-01T12:00:61Z',
      '2024-05-01T12:00:00+24:00',
      '2024-05-01T12:00:00+02:60',
      '2024-05-01T12:00:00+0200',
      '2024-05-01T12:00:00.Z',
      '2024-05-01',
      '+002024-05-01T12:00:00Z',
      '2024-W18-3T12:00:00Z',
      ' 2024-05-01T12:00:00Z',
      '２０２４-05-01T12:00:00Z',
    ]) {
      expect({ text, ok: isEventTime(text) }).toEqual({ text, ok: false });
    }
  });
});
