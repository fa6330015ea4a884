import { projectorEnv } from '../support/env';
import { makeEvents, publishEvents } from '../support/events';
import { createTestTopic, type TestTopic } from '../support/kafka';
import { createTestDatabase, readModelCounts, type TestDatabase } from '../support/postgres';
import { replay } from '../support/replay-cli';
import { countsFromTopic } from '../support/topic-truth';

describe('npm run replay', () => {
  let topic: TestTopic;
  let db: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    topic = await createTestTopic(3);
    db = await createTestDatabase();
    env = projectorEnv(topic.name, db.url);
    await publishEvents(topic.name, makeEvents(5000, 300, 'cli'));
  });
  afterAll(async () => {
    await db.drop();
    await topic.delete();
  });

  it('rebuilds, switches, lists, rolls back and drops, logging progress when not on a terminal', async () => {
    const rebuilt = await replay(env, 'rebuild');
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout).toMatch(/version 2 is live \(was 1\); roll back with: .*switch 1/);
    // Not a terminal: JSON log lines on stderr, with the progress figures.
    const progress = rebuilt.stderr
      .split('\n')
      .filter((line) => line.includes('"rebuild progress"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ version: 2, lag: 0, total: 5000, applied: 5000 });
    expect(Object.keys(progress.at(-1)!)).toEqual(
      expect.arrayContaining(['eventsPerSecond', 'secondsLeft']),
    );
    expect(await readModelCounts(db.pool)).toEqual(await countsFromTopic(topic.name));

    const status = await replay(env, 'status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/│\s+2\s+│\s+'live'\s+│\s+'ready'/);

    expect((await replay(env, 'drop', '2')).stderr).toMatch(/version 2 is live; switch to another/);
    const back = await replay(env, 'switch', '1');
    expect(back).toMatchObject({ code: 0, stdout: 'version 1 is live (was 2)\n' });
    expect(await replay(env, 'drop', '2')).toMatchObject({
      code: 0,
      stdout: 'version 2 dropped\n',
    });
  });

  it('explains a wrong command or argument and exits 2', async () => {
    const unknown = await replay(env, 'rebiuld');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "rebiuld"/);
    expect(unknown.stderr).toMatch(/usage: npm run replay/);
    const badTime = await replay(env, 'rebuild', '--from-time', 'yesterday');
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toMatch(/--from-time must be a date YYYY-MM-DD .*; got "yesterday"/);
    // A day the calendar does not have is refused, not rolled over into March.
    const noSuchDay = await replay(env, 'rebuild', '--from-time', '2026-02-30');
    expect(noSuchDay.code).toBe(2);
    expect(noSuchDay.stderr).toMatch(/--from-time must be .*; got "2026-02-30"/);
    // Numbers in plain decimal digits only: Number() read 1e3 as 1000 and 0x10 as 16.
    for (const [args, name] of [
      [['rebuild', '--threshold', '1e3'], '--threshold'],
      [['rebuild', '--switch-lag', '0x10'], '--switch-lag'],
      [['switch', '0x1'], 'VERSION'],
    ] as const) {
      const wrong = await replay(env, ...args);
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toContain(`${name} must be a whole number >= 0 in decimal digits`);
    }
    const missing = await replay(env, 'switch', '9');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/read model version 9 does not exist/);
  });
});
