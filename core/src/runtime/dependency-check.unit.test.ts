import pino from 'pino';
import { createDependencyCheck, type DependencyCheckOptions } from './dependency-check';

const logger = pino({ level: 'silent' });

/** A check probing every 10 ms with a 50 ms deadline; stopped by the test. */
function checkWith(
  options: Partial<DependencyCheckOptions> & Pick<DependencyCheckOptions, 'probe'>,
) {
  return createDependencyCheck({
    dependency: 'Kafka',
    intervalMs: 10,
    timeoutMs: 50,
    logger,
    ...options,
  });
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

describe('createDependencyCheck', () => {
  it('passes once a probe answered, and fails with the reason once one fails', async () => {
    let down = false;
    let probes = 0;
    const check = checkWith({
      probe: async () => {
        probes += 1;
        if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:9092');
      },
    });
    try {
      await check.started;
      await expect(check.check()).resolves.toBeUndefined();
      expect(check.failing()).toBe(false);
      down = true;
      const after = probes;
      await until(() => probes > after + 1);
      await expect(check.check()).rejects.toMatchObject({
        code: 'CATCHALL_NOT_READY',
        message: 'Kafka: connect ECONNREFUSED 127.0.0.1:9092',
      });
      expect(check.failing()).toBe(true);
      down = false;
      const recovered = probes;
      await until(() => probes > recovered + 1);
      await expect(check.check()).resolves.toBeUndefined();
      expect(check.failing()).toBe(false);
    } finally {
      await check.stop();
    }
  });

  it('given a dependency that never answers, fails at the deadline and never runs two probes at once', async () => {
    let running = 0;
    let mostAtOnce = 0;
    let probes = 0;
    const check = checkWith({
      timeoutMs: 30,
      probe: () => {
        probes += 1;
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        // Answers only long after its deadline, as a frozen broker's client does.
        return new Promise<void>((resolve) => {
          const end = () => {
            running -= 1;
            resolve();
          };
          setTimeout(end, 120);
        });
      },
    });
    try {
      await check.started;
      await expect(check.check()).rejects.toThrow('Kafka: no answer within 30 ms');
      expect(check.failing()).toBe(true);
      await until(() => probes >= 3);
      expect(mostAtOnce).toBe(1);
    } finally {
      await check.stop();
    }
    expect(running).toBe(0);
  });

  it('counts an outcome older than twice an interval and a deadline as failing', async () => {
    let clock = 1_000_000;
    const check = checkWith({ probe: async () => undefined, now: () => clock });
    try {
      await check.started;
      await check.stop();
      await expect(check.check()).resolves.toBeUndefined();
      clock += 2 * (10 + 50) + 1;
      await expect(check.check()).rejects.toThrow(
        'Kafka last checked 121 ms ago (every 10 ms expected)',
      );
      // The dependency answered when last asked: only the probing stopped.
      expect(check.failing()).toBe(false);
    } finally {
      await check.stop();
    }
  });

  it('leaves no timer behind once stopped', async () => {
    jest.useFakeTimers();
    try {
      const check = checkWith({ probe: async () => undefined });
      await check.started;
      expect(jest.getTimerCount()).toBe(1);
      await check.stop();
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('closes its client once stopped, after the probe in flight, and probes no more', async () => {
    const events: string[] = [];
    let release: () => void = () => undefined;
    let probes = 0;
    const check = checkWith({
      probe: async () => {
        probes += 1;
        if (probes === 2) await new Promise<void>((r) => (release = r));
        events.push('probed');
      },
      close: async () => {
        events.push('closed');
      },
    });
    await check.started;
    await until(() => probes === 2);
    const stopping = check.stop();
    release();
    await stopping;
    expect(events).toEqual(['probed', 'probed', 'closed']);
    await new Promise((r) => setTimeout(r, 30));
    expect(probes).toBe(2);
  });
});
