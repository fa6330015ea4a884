import { decideTries } from './event-dedupe';

const key = (t: { id: string }) => t.id;
const at = (id: string, ms: number) => ({ id, at: ms });

describe('deciding which tries of an event count', () => {
  it('counts the first try and none within the window of it, before or after', () => {
    const counted = new Map<string, number[]>();
    const tries = [at('a', 1000), at('a', 1500), at('a', 400), at('b', 1000)];
    expect(decideTries(tries, key, counted, 600)).toEqual([true, false, false, true]);
    expect(counted).toEqual(
      new Map([
        ['a', [1000]],
        ['b', [1000]],
      ]),
    );
  });

  it('counts a try again past the window, measured from counted tries only', () => {
    const counted = new Map<string, number[]>();
    expect(
      decideTries([at('a', 0), at('a', 90), at('a', 150), at('a', 195)], key, counted, 100),
    ).toEqual([true, false, true, false]);
  });

  it('decides against the tries counted before, as the store holds them', () => {
    const counted = new Map([['a', [10_000]]]);
    expect(decideTries([at('a', 10_050), at('a', 20_000)], key, counted, 100)).toEqual([
      false,
      true,
    ]);
    expect(counted.get('a')).toEqual([10_000, 20_000]);
  });

  it('gives the same verdicts however the tries are split into calls', () => {
    const tries = Array.from({ length: 200 }, (_, i) => at(`k${i % 7}`, (i * 37) % 500));
    const whole = decideTries(tries, key, new Map(), 60);
    const state = new Map<string, number[]>();
    const split = [
      ...decideTries(tries.slice(0, 77), key, state, 60),
      ...decideTries(tries.slice(77), key, state, 60),
    ];
    expect(split).toEqual(whole);
    expect(whole.filter(Boolean).length).toBeGreaterThan(7);
  });
});
