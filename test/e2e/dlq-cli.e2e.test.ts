import { createServer, type AddressInfo, type Server } from 'node:net';
import { migrate } from '@catchall/consumer';
import { dlq, dlqKilledAt, npmRunDlq } from '../support/dlq-cli';
import { testLogger } from '../support/logger';
import { projectorEnv, testInfra, uniqueName } from '../support/env';
import { encoderFor, produceMessages, toEvent } from '../support/events';
import { deadLetterTopic } from '@catchall/core';
import { createTestTopic, readAll, testKafka, type TestTopic } from '../support/kafka';
import { createTestDatabase, readModelCounts, type TestDatabase } from '../support/postgres';
import { startTestProjector, type TestProjector } from '../support/projector';
import { replay } from '../support/replay-cli';
import { waitForLiveCatchUp } from '../support/catch-up';
import { waitFor } from '../support/wait';
import { closedPort } from '../support/closed-port';

const REFUSE =
  "ALTER TABLE domain_stats ADD CONSTRAINT no_refused CHECK (domain <> 'refused.example')";

/** Publishes `domains` as deliveries keyed by domain, and a not-Avro record keyed `junk` when asked. */
async function publish(topic: string, domains: string[], junk = 0): Promise<void> {
  const encoder = await encoderFor(topic);
  await produceMessages(topic, [
    ...domains.map((domain) => ({
      key: domain,
      value: encoder.encode(toEvent({ domain, type: 'delivered' })),
    })),
    ...Array.from({ length: junk }, () => ({ key: 'junk', value: Buffer.from('not Avro') })),
  ]);
}

/** The log lines at warn level or above (pino's 40 and up) among a run's stderr. */
function warnings(stderr: string): string[] {
  return stderr.split('\n').filter((line) => {
    if (!line.startsWith('{')) return false;
    const { level } = JSON.parse(line) as { level?: number };
    return level !== undefined && level >= 40;
  });
}

describe('npm run dlq', () => {
  let topic: TestTopic;
  let db: TestDatabase;
  let env: Record<string, string>;
  let projector: TestProjector | undefined;

  const start = async () => {
    projector = await startTestProjector(topic, db);
  };
  const stop = async () => {
    await projector?.stop();
    projector = undefined;
  };
  const deadLetters = (n: number) =>
    waitFor(
      `${n} dead letters`,
      async () => {
        const read = await readAll(topic.dlq);
        return read.length === n && read;
      },
      { timeoutMs: 60000 },
    );
  const counts = async () => Object.fromEntries(await readModelCounts(db.pool));

  beforeEach(async () => {
    topic = await createTestTopic(2);
    db = await createTestDatabase();
    env = projectorEnv(topic.name, db.url);
  });
  afterEach(async () => {
    await stop();
    await db.drop();
    await topic.delete();
  });

  it('summarizes, lists and shows real dead letters, decoding what it can and saying why not', async () => {
    const encoder = await encoderFor(topic.name);
    await db.pool.query(REFUSE);
    await publish(topic.name, ['a.example', 'refused.example'], 1);
    // Written in capitals and with a trailing dot: show prints the domain as written.
    const bad = toEvent({ domain: '-Bad-.Example.', type: 'delivered' }, Date.UTC(2026, 2, 1, 12));
    await produceMessages(topic.name, [{ key: 'bad', value: encoder.encode(bad) }]);
    await start();
    await deadLetters(3);

    const summary = await dlq(env, 'summary');
    expect(summary.code).toBe(0);
    expect(summary.lines).toEqual([
      expect.objectContaining({
        total: 3,
        byReason: { 'invalid-domain': 1, 'not-wire-format': 1, 'store-refused': 1 },
        byPartition: { '0': 3 },
        redrivenBefore: 0,
      }),
    ]);
    // As the README says to pipe it: npm's banner kept off stdout, the JSON lines alone.
    const piped = await npmRunDlq(env, 'summary');
    expect(piped.code).toBe(0);
    expect(piped.stdout.trim().split('\n')).toEqual([JSON.stringify(summary.lines[0])]);
    const hours = Object.values(summary.lines[0]!.byHour as Record<string, number>);
    expect(hours.reduce((a, b) => a + b, 0)).toBe(3);

    const listed = await dlq(env, 'list', '--reason', 'store-refused');
    expect(listed.code).toBe(0);
    expect(listed.lines).toEqual([
      expect.objectContaining({
        reason: 'store-refused',
        original: expect.stringMatching(new RegExp(`^${topic.name}:\\d:\\d+$`)),
        redriveCount: 0,
        bodyKept: true,
        headers: expect.objectContaining({ 'dlq-reason': 'store-refused' }),
      }),
    ]);
    const all = await dlq(env, 'list', '--limit', '2');
    expect(all.lines).toHaveLength(2);

    const byReason = new Map(
      (await dlq(env, 'list')).lines.map((l) => [l.reason, l.deadLetter as string]),
    );
    const invalid = await dlq(env, 'show', byReason.get('invalid-domain')!);
    expect(invalid.code).toBe(0);
    expect(invalid.lines[0]).toMatchObject({
      reason: 'invalid-domain',
      key: { text: 'bad' },
      value: { hex: expect.stringMatching(/^00/), base64: expect.any(String) },
      wireFormat: { magicByte: 0, schemaId: encoder.schemaId },
      // The body decoded: its fields as written, so the operator sees why it was refused.
      decoded: {
        writerSchemaId: encoder.schemaId,
        eventId: bad.eventId,
        eventIdOrigin: 'client',
        domain: '-Bad-.Example.',
        type: 'delivered',
        occurredAt: Date.UTC(2026, 2, 1, 12),
        occurredAtUtc: '2026-03-01T12:00:00.000Z',
        source: 'test',
      },
      now: { outcome: 'dead-letters', reason: 'invalid-domain' },
    });
    const junk = await dlq(env, 'show', byReason.get('not-wire-format')!);
    expect(junk.lines[0]).toMatchObject({
      wireFormat: null,
      value: { base64: Buffer.from('not Avro').toString('base64') },
      decoded: null,
      now: { outcome: 'dead-letters', reason: 'not-wire-format' },
    });
    const refused = await dlq(env, 'show', byReason.get('store-refused')!);
    // Postgres refused it, the decoder does not: it would count now.
    expect(refused.lines[0]).toMatchObject({
      now: { outcome: 'counts', domain: 'refused.example', type: 'delivered' },
    });

    // Reading takes Kafka (and the registry, for show) alone: no Postgres to reach.
    const noPostgres = { ...env, DATABASE_URL: 'postgres://catchall@127.0.0.1:1/nowhere' };
    for (const args of [['summary'], ['list'], ['show', byReason.get('store-refused')!]]) {
      const run = await dlq(noPostgres, ...args);
      expect(run.code).toBe(0);
      expect(run.lines).toEqual((await dlq(env, ...args)).lines);
    }

    const missing = await dlq(env, 'show', '0:99');
    expect(missing.code).toBe(2);
    // The message alone, as its last line: the command line was not malformed.
    expect(missing.stderr.trim().split('\n').at(-1)).toBe(
      'CATCHALL_USAGE: no dead letter at 0:99: partition 0 holds offsets 0 to 2',
    );
    expect(missing.stderr).not.toContain('usage:');
    const malformed = await dlq(env, 'show', '0:x');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('usage: npm run');
    // A redrive of coordinates that hold no dead letter says so: not "sent 0".
    const nothingThere = await dlq(env, 'redrive', '0:99');
    expect(nothingThere.code).toBe(2);
    expect(nothingThere.stderr).toMatch(/no dead letter at 0:99: partition 0 holds offsets 0 to 2/);
    // A partition the dead-letter topic (one partition) does not have is a wrong command
    // line, not an empty answer.
    for (const args of [
      ['list', '--partition', '99'],
      ['redrive', '--partition', '99'],
      ['show', '99:0'],
    ]) {
      const outside = await dlq(env, ...args);
      expect(outside.code).toBe(2);
      expect(outside.stdout).toBe('');
      expect(outside.stderr).toMatch(
        new RegExp(
          `CATCHALL_USAGE: the dead-letter topic ${topic.dlq} has no partition 99 \\(its partitions: 0\\)`,
        ),
      );
      expect(outside.stderr).not.toContain('usage:');
    }
  });

  it('given a read model without its last migration, redrive exits 1 naming it and changes no schema; once migrated, it runs', async () => {
    // The last migration undone by hand, as its down migration does.
    const last = '1700000000009_event-ids-version-index';
    await db.pool.query(`DROP INDEX event_ids_v1_key_at;
      ALTER TABLE event_ids ADD PRIMARY KEY (version, key, at);
      DELETE FROM pgmigrations WHERE name = '${last}'`);

    const behind = await dlq(env, 'redrive', '--all', '--dry-run');
    expect(behind.code).toBe(1);
    expect(behind.stdout).toBe('');
    expect(behind.stderr).toMatch(
      new RegExp(
        `CATCHALL_SCHEMA_BEHIND: the read model lacks 1 migration\\(s\\) that npm run dlq -- redrive needs \\(${last}\\); .*run npm run setup, or start the projector`,
      ),
    );
    const { rows } = await db.pool.query<{ index: string | null; applied: string }>(
      `SELECT to_regclass('event_ids_v1_key_at')::text AS index,
              (SELECT count(*) FROM pgmigrations)::text AS applied`,
    );
    expect(rows).toEqual([{ index: null, applied: '9' }]);

    await migrate({ databaseUrl: db.url, logger: testLogger() });
    const current = await dlq(env, 'redrive', '--all', '--dry-run');
    expect(current.code).toBe(0);
    expect(current.stderr).toMatch(/"msg":"redrive done","sent":0,"skipped":0,"refused":0/);
  });

  it('counts redriven records once after a fix: twice, concurrently, after a crash, and in a rebuild', async () => {
    await db.pool.query(REFUSE);
    await publish(topic.name, ['a.example', 'refused.example']);
    // Two more events written to each partition, as a direct producer may: one of them is not
    // where its key hashes to, and redrive writes each copy to its origin's partition.
    const encoder = await encoderFor(topic.name);
    await produceMessages(
      topic.name,
      [0, 1].map((partition) => ({
        key: 'refused.example',
        partition,
        value: encoder.encode(toEvent({ domain: 'refused.example', type: 'delivered' })),
      })),
    );
    await start();
    await deadLetters(3);
    await stop();
    expect(await counts()).toEqual({ 'a.example': { delivered: 1, bounced: 0 } });

    const dry = await dlq(env, 'redrive', '--reason', 'store-refused', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.lines.map((l) => l.action)).toEqual([
      'would-redrive',
      'would-redrive',
      'would-redrive',
    ]);
    expect(dry.lines[0]).toMatchObject({ now: 'counts', redriveCount: 1 });
    expect((await readAll(topic.name)).length).toBe(4);

    // The fix; then the same dead letters redriven by two operators at once, by a run killed
    // between its produce and its exit, and by a run after it: four copies of each.
    await db.pool.query('ALTER TABLE domain_stats DROP CONSTRAINT no_refused');
    const [one, two] = await Promise.all([
      dlq(env, 'redrive', '--reason', 'store-refused'),
      dlq(env, 'redrive', '--reason', 'store-refused'),
    ]);
    for (const r of [one, two]) {
      expect(r).toMatchObject({ code: 0 });
      expect(r.lines.map((l) => l.action)).toEqual(['redriven', 'redriven', 'redriven']);
      const partitionOf = (coordinates: unknown) => String(coordinates).split(':').at(-2);
      expect(r.lines.map((l) => partitionOf(l.to))).toEqual(
        r.lines.map((l) => partitionOf(l.origin)),
      );
      expect(new Set(r.lines.map((l) => partitionOf(l.to)))).toEqual(new Set(['0', '1']));
    }
    const killed = await dlqKilledAt(
      env,
      /"task":"redriving"/,
      'redrive',
      '--reason',
      'store-refused',
    );
    expect(killed.signal).toBe('SIGKILL');
    const after = await dlq(env, 'redrive', '--reason', 'store-refused');
    expect(after.code).toBe(0);
    expect((await readAll(topic.name)).length).toBe(4 + 4 * 3);

    await start();
    await waitForLiveCatchUp(db.pool, topic.name, testInfra().brokers);
    const live = await counts();
    expect(live).toEqual({
      'a.example': { delivered: 1, bounced: 0 },
      'refused.example': { delivered: 3, bounced: 0 },
    });
    const again = await dlq(env, 'redrive', '--reason', 'store-refused');
    expect(again.code).toBe(0);
    expect(again.lines.map((l) => l.action)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(again.lines[0]!.why).toMatch(/was counted already, as/);
    await stop();

    // A rebuild reads the originals (counted now: the constraint is gone) and every copy.
    const rebuilt = await replay(env, 'rebuild');
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout).toMatch(/version 2 is live/);
    expect(await counts()).toEqual(live);
    const skipped = await dlq(env, 'redrive', '--reason', 'store-refused');
    expect(skipped.lines[0]!.why).toMatch(/counted the original record/);
  });

  it('counts a dead letter once however often it is redriven, whatever redrive-origin header its record carried', async () => {
    await db.pool.query(REFUSE);
    const encoder = await encoderFor(topic.name);
    const forged = (origin: string) => ({
      key: 'refused.example',
      partition: 0,
      headers: { 'redrive-origin': origin },
      value: encoder.encode(toEvent({ domain: 'refused.example', type: 'delivered' })),
    });
    // Headers naming no record before them in their partition: a later offset of their own
    // partition, another partition, another topic. Each record is dead-lettered as itself.
    await produceMessages(topic.name, [
      forged(`${topic.name}:0:999999`),
      forged(`${topic.name}:1:0`),
      forged('some-other-topic:0:0'),
      // Naming the first of them, which is dead-lettered, with a value of its own: no copy
      // of it, so it counts and leaves that dead letter to be redriven.
      {
        key: 'claimant.example',
        partition: 0,
        headers: { 'redrive-origin': `${topic.name}:0:0` },
        value: encoder.encode(toEvent({ domain: 'claimant.example', type: 'delivered' })),
      },
      // The same, dead-lettered itself, with a redrive-count of its own: its dead letter is
      // its own (redriven once, counted once), not that of the record it names.
      {
        key: 'refused.example',
        partition: 0,
        headers: { 'redrive-origin': `${topic.name}:0:0`, 'redrive-count': '2' },
        value: encoder.encode(toEvent({ domain: 'refused.example', type: 'bounced' })),
      },
      {
        key: 'raw.example',
        partition: 0,
        headers: { 'redrive-origin': `${topic.name}:0:0`, 'redrive-count': '999999999' },
        value: Buffer.from('not avro'),
      },
    ]);
    await start();
    const letters = await deadLetters(5);
    await stop();
    await db.pool.query('ALTER TABLE domain_stats DROP CONSTRAINT no_refused');
    const origins = (await dlq(env, 'list', '--reason', 'store-refused')).lines.map(
      (l) => l.origin,
    );
    // What the headers name; redrive reads which of them the ledger took.
    expect(origins).toEqual([0, 1, 2, 0].map((o) => `${topic.name}:0:${o}`));
    expect(letters).toHaveLength(5);
    const everyCount = {
      'claimant.example': { delivered: 1, bounced: 0 },
      'refused.example': { delivered: 3, bounced: 1 },
    };
    for (let run = 0; run < 3; run++) {
      const r = await dlq(env, 'redrive', '--reason', 'store-refused');
      expect(r.code).toBe(0);
      await start();
      await waitForLiveCatchUp(db.pool, topic.name, testInfra().brokers);
      await stop();
      expect(await counts()).toEqual(everyCount);
      // Counted by the first run's copies; the later runs skip them and write nothing.
      expect(r.lines.map((l) => [l.action, l.origin])).toEqual(
        [0, 1, 2, 4].map((o) => [run === 0 ? 'redriven' : 'skipped', `${topic.name}:0:${o}`]),
      );
      if (run === 0) expect(r.lines[3]).toMatchObject({ redriveCount: 1 });
    }
    // The record that is not Avro names the same dead letter, counted by now: its own dead
    // letter is still to redrive, its header's count not its own.
    const raw = await dlq(
      env,
      'redrive',
      '--reason',
      'not-wire-format',
      '--dry-run',
      '--even-if-failing',
    );
    expect(raw.code).toBe(0);
    expect(raw.lines).toEqual([
      expect.objectContaining({
        action: 'would-redrive',
        origin: `${topic.name}:0:5`,
        redriveCount: 1,
      }),
    ]);
    const rebuilt = await replay(env, 'rebuild');
    expect(rebuilt.code).toBe(0);
    expect(await counts()).toEqual(everyCount);
  });

  it("prints each chunk's lines once Kafka acknowledged it: a run that fails half-way has said what went out", async () => {
    // An events topic that refuses a record of 200 kB, and dead letters written as the
    // projector writes them: 200 small ones (the first chunk sent), then one too large.
    const small = await createTestTopic(1, undefined, { 'max.message.bytes': '100000' });
    try {
      await produceMessages(
        small.dlq,
        Array.from({ length: 201 }, (_, i) => ({
          key: 'junk',
          value: i < 200 ? Buffer.from(`not Avro ${i}`) : Buffer.alloc(200_000, 1),
          headers: {
            'dlq-reason': 'not-wire-format',
            'dlq-detail': 'not in the wire format',
            'dlq-original-topic': small.name,
            'dlq-original-partition': '0',
            'dlq-original-offset': String(i),
            'dlq-original-timestamp': String(Date.now()),
          },
        })),
      );
      const run = await dlq(
        projectorEnv(small.name, db.url),
        'redrive',
        '--all',
        '--even-if-failing',
      );
      expect(run.code).toBe(1);
      // Before, the lines came only at the end: a run that stopped had printed nothing.
      expect(run.lines).toHaveLength(200);
      const copies = await readAll(small.name);
      expect(copies).toHaveLength(200);
      const at = new Map(copies.map((c) => [`${c.partition}:${c.message.offset}`, c.message]));
      run.lines.forEach((line, i) => {
        expect(line).toMatchObject({ action: 'redriven', deadLetter: `0:${i}`, redriveCount: 1 });
        expect(at.get(line.to as string)?.headers?.['redrive-from']?.toString()).toBe(
          `${small.dlq}:0:${i}`,
        );
      });
    } finally {
      await small.delete();
    }
  });

  it('dead-letters a redriven record that fails again with its counter, and refuses it at the limit', async () => {
    await publish(topic.name, ['a.example'], 1);
    await start();
    const [first] = await deadLetters(1);
    const origin = `${topic.name}:${first!.message.headers!['dlq-original-partition']!.toString()}:${first!.message.headers!['dlq-original-offset']!.toString()}`;

    // Not fixed: redrive says so and writes nothing, unless told to send it anyway.
    const notFixed = await dlq(env, 'redrive', '--reason', 'not-wire-format');
    expect(notFixed.code).toBe(3);
    expect(notFixed.lines).toEqual([
      expect.objectContaining({ action: 'refused', code: 'CATCHALL_REDRIVE_REFUSED' }),
    ]);
    expect(notFixed.stderr).toMatch(
      /CATCHALL_REDRIVE_REFUSED: dead letter 0:0 would be dead-lettered again now \(not-wire-format: .*\): fix its cause first, or redrive it anyway with --even-if-failing/,
    );
    expect(await readAll(topic.name)).toHaveLength(2);

    const anyway = ['--even-if-failing', '--max-redrives', '2'];
    const sent = await dlq(env, 'redrive', '--reason', 'not-wire-format', ...anyway);
    expect(sent.code).toBe(0);
    // A normal run logs nothing an operator would read as a problem (kafkajs warned that an
    // idempotent producer's retries were limited, at every redrive).
    expect(warnings(sent.stderr)).toEqual([]);
    expect(sent.lines).toEqual([
      expect.objectContaining({ action: 'redriven', now: 'dead-letters', redriveCount: 1 }),
    ]);
    const back = (await deadLetters(2))[1]!.message.headers!;
    expect(back['redrive-origin']!.toString()).toBe(origin);
    expect(back['redrive-count']!.toString()).toBe('1');
    expect(back['dlq-reason']!.toString()).toBe('not-wire-format');

    // The first dead letter again: the counter is the origin's, not the dead letter's.
    const second = await dlq(env, 'redrive', '0:0', ...anyway);
    expect(second.lines).toEqual([
      expect.objectContaining({ action: 'redriven', redriveCount: 2 }),
    ]);
    await deadLetters(3);
    const refused = await dlq(env, 'redrive', '--reason', 'not-wire-format', ...anyway);
    expect(refused.code).toBe(3);
    expect(refused.lines[0]).toMatchObject({ action: 'refused', code: 'CATCHALL_REDRIVE_REFUSED' });
    expect(refused.stderr).toMatch(
      /CATCHALL_REDRIVE_REFUSED: origin .* was redriven 2 times already \(--max-redrives 2\)/,
    );
    expect(await counts()).toEqual({ 'a.example': { delivered: 1, bounced: 0 } });
  });
});

describe('npm run dlq, a topic that does not exist', () => {
  let made: string | undefined;
  afterEach(async () => {
    if (made === undefined) return;
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [made] });
    } finally {
      await admin.disconnect();
    }
    made = undefined;
  });

  // Postgres is never reached: the topics are checked first.
  const env = (eventsTopic: string) => projectorEnv(eventsTopic, 'postgres://u@127.0.0.1:1/x');

  it.each([['summary'], ['list'], ['show', '0:0'], ['redrive', '--all', '--dry-run']])(
    'given an EVENTS_TOPIC whose dead-letter topic does not exist, %s says so at once, exit 2',
    async (...args) => {
      const events = uniqueName('nope');
      const started = Date.now();
      const run = await dlq(env(events), ...args);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      // redrive names the events topic too, which it writes to.
      const eventsToo =
        args[0] === 'redrive'
          ? `; the events topic ${events} (EVENTS_TOPIC), which redrive writes to, does not exist`
          : '';
      expect(run.stderr.trim().split('\n').at(-1)).toBe(
        `CATCHALL_INVALID_CONFIG: the dead-letter topic ${events}.dlq (EVENTS_TOPIC "${events}" and .dlq) does not exist${eventsToo} at ${testInfra().brokers}: set EVENTS_TOPIC to the projector's events topic, or create the topics with npm run setup`,
      );
      // Before, kafkajs retried the unknown topic for about 7 s and blamed the brokers.
      expect(Date.now() - started).toBeLessThan(5_000);
    },
  );

  it('given a dead-letter topic whose events topic does not exist, redrive says so before reading, exit 2', async () => {
    const events = uniqueName('gone');
    made = deadLetterTopic(events);
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: made, numPartitions: 1 }] });
    } finally {
      await admin.disconnect();
    }
    const listed = await dlq(env(events), 'list');
    expect(listed).toMatchObject({ code: 0, stdout: '' });
    const run = await dlq(env(events), 'redrive', '--all');
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(
      `CATCHALL_INVALID_CONFIG: the events topic ${events} (EVENTS_TOPIC), which redrive writes to, does not exist at ${testInfra().brokers}: set EVENTS_TOPIC to the projector's events topic, or create the topics with npm run setup`,
    );
  });
});

describe('npm run dlq -- redrive, Postgres not given or not answering', () => {
  let topic: TestTopic;
  beforeAll(async () => {
    topic = await createTestTopic(1);
  });
  afterAll(async () => {
    await topic.delete();
  });

  it('without DATABASE_URL, says so at once with its code, exit 2, before any connection or log line', async () => {
    const env = {
      ...projectorEnv(topic.name, 'unused'),
      DATABASE_URL: undefined,
      DATABASE_URL_FILE: undefined,
    };
    const run = await dlq(env, 'redrive', '--all', '--dry-run');
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    // The one line: no "Postgres not reachable yet; the program keeps trying" before it.
    expect(run.stderr.trim()).toBe(
      "CATCHALL_INVALID_CONFIG: Invalid configuration: DATABASE_URL is not set, and redrive reads the live read model's redrive ledger in Postgres: set DATABASE_URL (or DATABASE_URL_FILE) to the database the projector writes (npm start prints its own)",
    );
  });

  it('with a Postgres that does not answer, ends with exit 1 naming it, and promises no retry', async () => {
    const run = await dlq(
      projectorEnv(topic.name, 'postgres://app:Pg-Pa55@127.0.0.1:1/catchall'),
      'redrive',
      '--all',
      '--dry-run',
    );
    expect(run.code).toBe(1);
    expect(run.stderr).not.toContain('keeps trying');
    expect(run.stderr).not.toContain('Pg-Pa55');
    expect(run.stderr.trim().split('\n').at(-1)).toBe(
      'CATCHALL_POSTGRES_UNAVAILABLE: Postgres could not be reached (connect ECONNREFUSED 127.0.0.1:1); check the host and port of DATABASE_URL and that the server runs, then run again',
    );
  });
});

describe('npm run dlq, Kafka not answering', () => {
  let frozen: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (frozen ? frozen.close(resolve) : resolve(undefined)));
    frozen = undefined;
  });

  /** A broker that accepts connections and never answers, as a frozen one does. */
  const frozenBroker = async () => {
    frozen = createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => frozen!.listen(0, '127.0.0.1', resolve));
    return (frozen.address() as AddressInfo).port;
  };

  it.each([
    ['refused', 'summary', closedPort],
    ['frozen', 'list', frozenBroker],
  ])(
    'given a broker that is %s, %s exits 1 within the wait it documents, naming the brokers with a code',
    async (_, command, port) => {
      const brokers = `127.0.0.1:${await port()}`;
      const started = Date.now();
      const run = await dlq(
        {
          KAFKA_BROKERS: brokers,
          EVENTS_TOPIC: 'events',
          DATABASE_URL: 'postgres://u@127.0.0.1:1/x',
        },
        command,
      );
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split('\n').at(-1)).toMatch(
        new RegExp(`^CATCHALL_NOT_READY: Kafka could not be reached at ${brokers} \\(`),
      );
      // The first contact is given 15 s (README, "Dead-letter tools"); before, about a minute.
      expect(Date.now() - started).toBeLessThan(30_000);
    },
  );
});
