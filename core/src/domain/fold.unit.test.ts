import { evolve, foldEvents, foldInto, type CountedEvent, type DomainDelta } from './fold';

const delivered = (occurredAt: number): CountedEvent => ({ type: 'delivered', occurredAt });
const bounced = (occurredAt: number): CountedEvent => ({ type: 'bounced', occurredAt });

describe('evolve', () => {
  it('given no state, when a delivery is folded, then it counts one delivery at that time', () => {
    expect(evolve(undefined, delivered(5))).toEqual({
      delivered: 1,
      bounced: 0,
      firstEventAt: 5,
      lastEventAt: 5,
    });
  });

  it('given a state, when a bounce is folded, then counts add and the time span widens', () => {
    const state: DomainDelta = { delivered: 3, bounced: 0, firstEventAt: 10, lastEventAt: 20 };
    expect(evolve(state, bounced(2))).toEqual({
      delivered: 3,
      bounced: 1,
      firstEventAt: 2,
      lastEventAt: 20,
    });
  });

  it('does not change the state it is given', () => {
    const state: DomainDelta = { delivered: 1, bounced: 0, firstEventAt: 1, lastEventAt: 1 };
    evolve(state, delivered(9));
    expect(state).toEqual({ delivered: 1, bounced: 0, firstEventAt: 1, lastEventAt: 1 });
  });
});

describe('folding is order-independent', () => {
  const events = [delivered(3), bounced(1), delivered(7), delivered(2), bounced(9)];

  it('folds in place, when asked, to what evolve gives', () => {
    const events = [delivered(7), bounced(3), delivered(12), bounced(9)];
    const inPlace: DomainDelta = { delivered: 2, bounced: 1, firstEventAt: 5, lastEventAt: 10 };
    let evolved: DomainDelta = { ...inPlace };
    for (const event of events) {
      foldInto(inPlace, event);
      evolved = evolve(evolved, event);
    }
    expect(inPlace).toEqual(evolved);
    expect(inPlace).toEqual({ delivered: 4, bounced: 3, firstEventAt: 3, lastEventAt: 12 });
  });

  it('gives the same delta for every order of the same events', () => {
    const forward = events.reduce<DomainDelta | undefined>(evolve, undefined);
    const backward = [...events].reverse().reduce<DomainDelta | undefined>(evolve, undefined);
    expect(backward).toEqual(forward);
  });

  it('gives the same delta whichever event comes first', () => {
    const orders = [
      [0, 1, 2, 3, 4],
      [4, 2, 0, 3, 1],
      [1, 3, 4, 0, 2],
    ].map((order) =>
      order.map((i) => events[i]!).reduce<DomainDelta | undefined>(evolve, undefined),
    );
    expect(orders[1]).toEqual(orders[0]);
    expect(orders[2]).toEqual(orders[0]);
  });
});

describe('foldEvents', () => {
  it('keeps one delta per domain', () => {
    const deltas = foldEvents([
      { domain: 'a.com', event: delivered(1) },
      { domain: 'b.com', event: bounced(2) },
      { domain: 'a.com', event: delivered(3) },
    ]);
    expect(Object.fromEntries(deltas)).toEqual({
      'a.com': { delivered: 2, bounced: 0, firstEventAt: 1, lastEventAt: 3 },
      'b.com': { delivered: 0, bounced: 1, firstEventAt: 2, lastEventAt: 2 },
    });
  });
});
