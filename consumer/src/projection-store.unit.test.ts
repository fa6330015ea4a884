import type { DomainDelta } from '@catchall/core';
import { flushDomainCount } from './projection-store';

describe("a flush span's domain count", () => {
  const delta: DomainDelta = { delivered: 1, bounced: 0, firstEventAt: 1, lastEventAt: 1 };
  const event = { type: 'delivered' as const, occurredAt: 1 };

  it('counts the domains of events with client ids and of redriven copies, each domain once', () => {
    expect(flushDomainCount({ deltas: new Map([['a.com', delta]]) })).toBe(1);
    expect(
      flushDomainCount({
        deltas: new Map([['a.com', delta]]),
        tries: [
          { domain: 'b.com', eventId: 'x', at: 1, event },
          { domain: 'a.com', eventId: 'y', at: 1, event },
        ],
        redriven: [{ origin: 't:0:0', offset: 1, domain: 'c.com', at: 1, event }],
      }),
    ).toBe(3);
    // Only tries: what the span said 0 for.
    expect(
      flushDomainCount({
        deltas: new Map(),
        tries: [{ domain: 'b.com', eventId: 'x', at: 1, event }],
      }),
    ).toBe(1);
  });
});
