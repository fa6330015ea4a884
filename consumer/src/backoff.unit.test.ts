import { testLogger } from '../../test/support/logger';
import { createBackoff } from './backoff';

describe('backoff', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function setUp(recover: () => Promise<void> = () => Promise.resolve()) {
    const calls: string[] = [];
    const backoff = createBackoff({
      pause: () => calls.push('pause'),
      recover: () => {
        calls.push('recover');
        return recover();
      },
      resume: () => calls.push('resume'),
      logger: testLogger(),
      initialMs: 100,
      maxMs: 400,
    });
    return { backoff, calls };
  }

  it('pauses on a failure, then recovers and resumes after the delay', async () => {
    const { backoff, calls } = setUp();
    backoff.fail(new Error('down'), 'flush');
    expect(calls).toEqual(['pause']);
    expect(backoff.paused()).toBe(true);
    await jest.advanceTimersByTimeAsync(100);
    expect(calls).toEqual(['pause', 'recover', 'resume']);
    expect(backoff.paused()).toBe(false);
  });

  it('doubles the delay with each failure in a row up to the maximum, and a success resets it', async () => {
    const { backoff, calls } = setUp();
    for (const delay of [100, 200, 400, 400]) {
      backoff.fail(new Error('down'), 'flush');
      await jest.advanceTimersByTimeAsync(delay - 1);
      expect(calls.at(-1)).toBe('pause');
      await jest.advanceTimersByTimeAsync(1);
      expect(calls.at(-1)).toBe('resume');
    }
    backoff.succeed('flush');
    backoff.fail(new Error('down'), 'flush');
    await jest.advanceTimersByTimeAsync(100);
    expect(calls.at(-1)).toBe('resume');
  });

  it('is not reset by a success of another kind of work than the one that failed', async () => {
    const { backoff, calls } = setUp();
    backoff.fail(new Error('registry down'), 'batch');
    await jest.advanceTimersByTimeAsync(100);
    // A flush tick with nothing to write succeeds in between: the batch is what failed.
    backoff.succeed('flush');
    backoff.fail(new Error('registry down'), 'batch');
    await jest.advanceTimersByTimeAsync(199);
    expect(calls.at(-1)).toBe('pause');
    await jest.advanceTimersByTimeAsync(1);
    expect(calls.at(-1)).toBe('resume');
  });

  it('waits longer when recovering fails, and resumes only once it succeeds', async () => {
    let failing = 2;
    const { backoff, calls } = setUp(() =>
      failing-- > 0 ? Promise.reject(new Error('still down')) : Promise.resolve(),
    );
    backoff.fail(new Error('down'), 'batch');
    await jest.advanceTimersByTimeAsync(100);
    expect(calls).toEqual(['pause', 'recover']);
    // The delay doubled at the failure (200) and again at the failed recovery (400, the maximum).
    await jest.advanceTimersByTimeAsync(399);
    expect(calls).toEqual(['pause', 'recover']);
    await jest.advanceTimersByTimeAsync(1 + 400);
    expect(calls).toEqual(['pause', 'recover', 'recover', 'recover', 'resume']);
  });

  it('ignores failures while paused, and stop cancels the pending resume', async () => {
    const { backoff, calls } = setUp();
    backoff.fail(new Error('a'), 'batch');
    backoff.fail(new Error('b'), 'flush');
    backoff.stop();
    await jest.advanceTimersByTimeAsync(1000);
    expect(calls).toEqual(['pause']);
    expect(backoff.paused()).toBe(false);
  });

  it('given stop while a recovery runs, then that recovery neither resumes nor schedules another', async () => {
    for (const outcome of ['succeeds', 'fails'] as const) {
      let settle: () => void = () => undefined;
      const { backoff, calls } = setUp(
        () =>
          new Promise<void>((resolve, reject) => {
            settle = outcome === 'succeeds' ? resolve : () => reject(new Error('still down'));
          }),
      );
      backoff.fail(new Error('down'), 'flush');
      await jest.advanceTimersByTimeAsync(100);
      expect(calls).toEqual(['pause', 'recover']);
      backoff.stop();
      settle();
      await jest.advanceTimersByTimeAsync(1000);
      expect({ outcome, calls }).toEqual({ outcome, calls: ['pause', 'recover'] });
    }
  });

  it('keeps doubling while recovery fails, whatever succeeds meanwhile', async () => {
    let failing = 3;
    const { backoff, calls } = setUp(() =>
      failing-- > 0 ? Promise.reject(new Error('still down')) : Promise.resolve(),
    );
    const recoveries = () => calls.filter((c) => c === 'recover').length;
    backoff.fail(new Error('down'), 'flush');
    // Recoveries at 100 ms, then 400 ms apart (the maximum): flush ticks' successes in
    // between change nothing.
    await jest.advanceTimersByTimeAsync(100);
    expect(recoveries()).toBe(1);
    backoff.succeed('flush');
    await jest.advanceTimersByTimeAsync(400);
    expect(recoveries()).toBe(2);
    backoff.succeed('flush');
    await jest.advanceTimersByTimeAsync(399);
    expect(recoveries()).toBe(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(recoveries()).toBe(3);
  });
});
