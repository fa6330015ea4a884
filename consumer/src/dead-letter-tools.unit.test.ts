import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { KafkaMessage } from 'kafkajs';
import { COMMAND_OPTIONS, parseDlqArgs, USAGE } from './dlq-args';
import { planRedrive, summarize } from './dead-letter-report';
import { checkPartitions, parseSelection, readRanges, selects } from './dead-letter-selection';
import { headersText, viewDeadLetter, type DeadLetterView } from './dead-letter-view';
import {
  attemptsKey,
  deadLetteredRecord,
  redriveCount,
  redriveMessage,
  redriveOrigin,
  rememberedOrigin,
  valueDigest,
} from './redrive';
import {
  checkDeadLettersHeld,
  listCommand,
  showCommand,
  summaryCommand,
  type ListEntry,
  type Verdict,
} from './dead-letter-commands';
import {
  createRedriveLines,
  redriveSelection,
  refuseStillFailing,
  type RedriveLine,
} from './redrive-command';
import { dlqFailure } from './dlq-exit';
import { checkTopicsExist, topicsOf } from './dlq-topics';
import { loadDlqConfig } from './config';
import { createInMemoryTopic, jsonDecoder } from '../../test/support/in-memory-ports';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 30, 10, 15);

/** A dead letter as the projector writes it (dead-letters.ts), with `extra` headers. */
function letter(
  offset: number,
  reason: string,
  original: [number, number],
  at = T0,
  extra: Record<string, string> = {},
): KafkaMessage {
  return {
    key: Buffer.from('Example.COM'),
    value: Buffer.from([0, 0, 0, 0, 7, 1, 2]),
    timestamp: String(at),
    offset: String(offset),
    attributes: 0,

    headers: {
      trace: Buffer.from('abc'),
      'dlq-reason': Buffer.from(reason),
      'dlq-detail': Buffer.from('why'),
      'dlq-original-topic': Buffer.from('events'),
      'dlq-original-partition': Buffer.from(String(original[0])),
      'dlq-original-offset': Buffer.from(String(original[1])),
      'dlq-original-timestamp': Buffer.from(String(at - 1000)),
      ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, Buffer.from(v)])),
    },
  };
}

const view = (partition: number, message: KafkaMessage): DeadLetterView =>
  viewDeadLetter(partition, message);

describe('the dlq command line', () => {
  it('reads a list with every selection option', () => {
    const args = parseDlqArgs([
      'list',
      '--reason',
      'undecodable',
      '--reason',
      'store-refused',
      '--partition',
      '0',
      '--from-offset',
      '3',
      '--to-offset',
      '9',
      '--since',
      '2026-11-30T10:00:00Z',
      '--until',
      '2026-11-30T11:00:00Z',
      '--limit',
      '5',
    ]);
    expect(args).toMatchObject({
      help: false,
      command: 'list',
      json: false,
      selection: {
        reasons: ['undecodable', 'store-refused'],
        partition: 0,
        fromOffset: 3,
        toOffset: 9,
        since: Date.UTC(2026, 10, 30, 10),
        until: Date.UTC(2026, 10, 30, 11),
        limit: 5,
        coordinates: [],
      },
    });
  });

  it('reads show coordinates and redrive coordinates, dry run and limit', () => {
    expect(parseDlqArgs(['show', '0:42'])).toMatchObject({
      command: 'show',
      at: { partition: 0, offset: 42 },
    });
    expect(
      parseDlqArgs(['redrive', '0:1', '0:5', '--dry-run', '--max-redrives', '5']),
    ).toMatchObject({
      command: 'redrive',
      maxRedrives: 5,
      selection: {
        coordinates: [
          { partition: 0, offset: 1 },
          { partition: 0, offset: 5 },
        ],
      },
      dryRun: true,
      all: false,
    });
    expect(parseDlqArgs(['redrive', '--all'])).toMatchObject({ command: 'redrive' });
    expect(parseDlqArgs(['--help'])).toMatchObject({ help: true });
    expect(parseDlqArgs([])).toMatchObject({ help: true });
  });

  it('reads a date as the start of that day in UTC, and a date and time at its offset', () => {
    expect(
      parseDlqArgs(['summary', '--since', '2024-02-29', '--until', '2024-03-01T01:30:00+02:00']),
    ).toMatchObject({
      selection: { since: Date.UTC(2024, 1, 29), until: Date.UTC(2024, 1, 29, 23, 30) },
    });
  });

  it.each([
    ['--since', '2026-02-30'],
    ['--until', '2026-02-30'],
    ['--since', '2025-02-29'],
    ['--until', '2026-04-31T10:00:00Z'],
    ['--since', '2026-13-01'],
    ['--until', '2026-11-30T24:00:00Z'],
    ['--since', '2026-11-30T10:60:00Z'],
    ['--since', '2026-11-30T10:00:00+24:00'],
    ['--until', '2026-11-30T10:00:00'],
    ['--since', 'March 7, 2026'],
    ['--since', '2026-11-30 10:00:00Z'],
  ])(
    'refuses %s %s, a date or time that is not one, naming the formats it takes',
    (option, text) => {
      const argv = ['list', option, text];
      expect(() => parseDlqArgs(argv)).toThrow(
        `${option} must be a date YYYY-MM-DD (its start, UTC) or an RFC 3339 date and time YYYY-MM-DDTHH:MM:SS[.fff] with Z or ±HH:MM (2026-03-01T12:00:00Z); got "${text}"`,
      );
      expect(() => parseDlqArgs(argv)).toThrow(expect.objectContaining({ code: 'CATCHALL_USAGE' }));
    },
  );

  it.each([
    [['summary', '--limit', '5'], 'summary does not take --limit'],
    [
      ['summary', '--dry-run', '--max-redrives', '2'],
      'summary does not take --dry-run, --max-redrives',
    ],
    [['summary', '--all'], 'summary does not take --all'],
    [['list', '--dry-run'], 'list does not take --dry-run'],
    [['list', '--max-redrives', '2'], 'list does not take --max-redrives'],
    [['list', '--all'], 'list does not take --all'],
    [['show', '0:1', '--reason', 'undecodable'], 'show does not take --reason'],
    [['show', '0:1', '--limit', '1'], 'show does not take --limit'],
    [['show', '0:1', '--since', '2026-11-30'], 'show does not take --since'],
    [['show', '0:1', '--dry-run'], 'show does not take --dry-run'],
  ])('refuses %j: an option the command does not use, naming those it takes', (argv, message) => {
    expect(() => parseDlqArgs(argv)).toThrow(message);
    expect(() => parseDlqArgs(argv)).toThrow(expect.objectContaining({ code: 'CATCHALL_USAGE' }));
  });

  it.each([
    [['list', '--partition', '5', '--partition', '0'], 'partition'],
    [['redrive', '--partition', '1', '--partition=2'], 'partition'],
    [['list', '--limit', '1', '--limit', '3'], 'limit'],
    [['list', '--since', '2026-11-01', '--since', '2026-11-02'], 'since'],
    [['summary', '--until', '2026-11-01', '--until', '2026-11-02'], 'until'],
    [['list', '--from-offset', '1', '--from-offset', '2'], 'from-offset'],
    [['list', '--to-offset', '1', '--to-offset', '2'], 'to-offset'],
    [['redrive', '--all', '--max-redrives', '2', '--max-redrives', '5'], 'max-redrives'],
    [['redrive', '--all', '--dry-run', '--dry-run'], 'dry-run'],
    [['list', '--json', '--json'], 'json'],
  ])('refuses %j: an option given twice that holds one value, naming it', (argv, name) => {
    expect(() => parseDlqArgs(argv)).toThrow(
      `--${name} is given more than once; give it once (only --reason repeats)`,
    );
    expect(() => parseDlqArgs(argv)).toThrow(expect.objectContaining({ code: 'CATCHALL_USAGE' }));
  });

  it('takes plain decimal digits, leading zeros included, with the bounds of each option', () => {
    expect(
      parseDlqArgs(['list', '--limit', '016', '--partition', '00', '--from-offset', '10']),
    ).toMatchObject({ selection: { limit: 16, partition: 0, fromOffset: 10 } });
    expect(parseDlqArgs(['redrive', '--all', '--max-redrives', '999999999'])).toMatchObject({
      maxRedrives: 999_999_999,
    });
  });

  it("says to run it with npm run -s, which keeps npm's banner off stdout, in the usage and the README", () => {
    expect(USAGE).toMatch(/^usage: npm run -s dlq -- <command> \[options\]/m);
    expect(USAGE).toContain('npm run -s dlq -- summary | jq .total');
    const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const start = readme.indexOf('\n## Dead-letter tools\n');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const commands = section.split('\n').filter((l) => /^npm run\b.*\bdlq\b/.test(l));
    expect(commands.length).toBeGreaterThan(0);
    for (const line of commands) expect(line).toMatch(/^npm run -s dlq -- /);
    expect(commands.some((l) => /\| jq /.test(l))).toBe(true);
  });

  it('takes --reason several times: any of the reasons', () => {
    const args = parseDlqArgs(['list', '--reason', 'undecodable', '--reason', 'store-refused']);
    expect(args).toMatchObject({ selection: { reasons: ['undecodable', 'store-refused'] } });
  });

  it('names the options each command takes, as the usage lists them', () => {
    expect(() => parseDlqArgs(['summary', '--limit', '5'])).toThrow(
      'summary does not take --limit; it takes --reason, --partition, --from-offset, --to-offset, --since, --until, --json',
    );
    expect(() => parseDlqArgs(['show', '0:1', '--partition', '0'])).toThrow(
      'show does not take --partition; it takes --json',
    );
    for (const [command, options] of Object.entries(COMMAND_OPTIONS)) {
      for (const option of options) {
        if (option === 'reason') continue;
        expect(USAGE).toContain(`--${option}`);
      }
      expect(USAGE).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
    expect(USAGE).toMatch(/summary \[selection\] +counts/);
    expect(USAGE).toMatch(/list \[selection\] \[--limit N\]/);
    expect(USAGE).toMatch(/show PARTITION:OFFSET +one dead letter/);
  });

  it.each([
    [['--json', 'show', '0:1'], { command: 'show', json: true }],
    [
      ['redrive', '--all', '--json', '--dry-run', '--limit', '3', '--max-redrives', '4'],
      { command: 'redrive', json: true, dryRun: true, all: true, maxRedrives: 4 },
    ],
    [['summary', '--json', '--partition', '0'], { command: 'summary', json: true }],
  ])('takes every option a command uses: %j', (argv, expected) => {
    expect(parseDlqArgs(argv)).toMatchObject(expected);
  });

  it.each([
    [['frob'], /unknown command "frob"/],
    [['show'], /show takes one PARTITION:OFFSET/],
    [['show', '7'], /named <partition>:<offset>.*got "7"/],
    [['list', '0:1'], /list takes no arguments/],
    [['redrive'], /redrive needs a selection/],
    [['redrive', '--all', '--reason', 'undecodable'], /--all redrives every dead letter/],
    [
      ['list', '--limit', '0'],
      /--limit must be a whole number >= 1 in decimal digits \(0-9 only\), got "0"/,
    ],
    [
      ['list', '--limit', '-5'],
      /--limit must be a whole number >= 1 in decimal digits \(0-9 only\), got "-5"/,
    ],
    [
      ['list', '--limit=-5'],
      /--limit must be a whole number >= 1 in decimal digits \(0-9 only\), got "-5"/,
    ],
    [
      ['list', '--limit', 'abc'],
      /--limit must be a whole number >= 1 in decimal digits \(0-9 only\), got "abc"/,
    ],
    [
      ['redrive', '--all', '--limit', '2.5'],
      /--limit must be a whole number >= 1 in decimal digits \(0-9 only\), got "2.5"/,
    ],
    [
      ['list', '--partition', '-1'],
      /--partition must be a whole number >= 0 in decimal digits \(0-9 only\), got "-1"/,
    ],
    [
      ['list', '--reason', 'nosuch'],
      /--reason must be one of not-wire-format, unknown-schema-id, undecodable, unknown-event-type, invalid-domain, time-out-of-range, store-refused; got "nosuch"/,
    ],
    [['redrive', '--reason', 'store-refused', '--reason', 'Store-Refused'], /got "Store-Refused"/],
    [['list', '--partition=-1'], /--partition must be a whole number >= 0/],
    [['list', '--from-offset', 'ten'], /--from-offset must be a whole number/],
    [['list', '--from-offset', '9', '--to-offset', '3'], /--from-offset 9 is after --to-offset 3/],
    [['list', '--since', 'yesterday'], /--since must be a date YYYY-MM-DD .*; got "yesterday"/],
    [['list', '--since', '2026-11-30', '--until', '2026-11-29'], /--since must be before --until/],
    [
      ['redrive', '--all', '--max-redrives', '0'],
      /--max-redrives must be a whole number from 1 to 999999999/,
    ],
    [
      ['redrive', '--all', '--max-redrives', '1000000000'],
      /--max-redrives must be a whole number from 1 to 999999999/,
    ],
    [['list', '--frob'], /Unknown option '--frob'/],
    [['list', '--reason', ''], /--reason must be one of .*; got ""/],
  ])('refuses %j with a usage error that says what is wrong', (argv, message) => {
    expect(() => parseDlqArgs(argv)).toThrow(message);
    expect(() => parseDlqArgs(argv)).toThrow(expect.objectContaining({ code: 'CATCHALL_USAGE' }));
  });

  it.each([
    [['list', '--limit', '0x10'], '--limit must be a whole number >= 1', '0x10'],
    [['list', '--limit', '1e1'], '--limit must be a whole number >= 1', '1e1'],
    [['list', '--limit', ' 5'], '--limit must be a whole number >= 1', ' 5'],
    [['list', '--limit', '5.0'], '--limit must be a whole number >= 1', '5.0'],
    [['list', '--limit', '+5'], '--limit must be a whole number >= 1', '+5'],
    [['list', '--limit', '0b11'], '--limit must be a whole number >= 1', '0b11'],
    [['list', '--limit', '0o7'], '--limit must be a whole number >= 1', '0o7'],
    [['list', '--limit', '1_000'], '--limit must be a whole number >= 1', '1_000'],
    [['summary', '--partition', '0x1'], '--partition must be a whole number >= 0', '0x1'],
    [['summary', '--partition', '1e0'], '--partition must be a whole number >= 0', '1e0'],
    [['summary', '--partition', ''], '--partition must be a whole number >= 0', ''],
    [['list', '--from-offset', '1e1'], '--from-offset must be a whole number >= 0', '1e1'],
    [['list', '--to-offset', '0x0'], '--to-offset must be a whole number >= 0', '0x0'],
    [
      ['list', '--from-offset', '99999999999999999999'],
      '--from-offset must be a whole number >= 0',
      '99999999999999999999',
    ],
    [
      ['redrive', '--all', '--max-redrives', '1e3'],
      '--max-redrives must be a whole number from 1 to 999999999',
      '1e3',
    ],
  ])('refuses %j: a number only JavaScript reads so, naming the option', (argv, what, text) => {
    const message = `${what} in decimal digits (0-9 only), got "${text}"`;
    expect(() => parseDlqArgs(argv)).toThrow(message);
    expect(() => parseDlqArgs(argv)).toThrow(expect.objectContaining({ code: 'CATCHALL_USAGE' }));
  });
});

describe('selecting dead letters', () => {
  const ends = new Map<number, [number, number]>([
    [0, [2, 20]],
    [1, [0, 5]],
  ]);

  it('reads only the offsets a selection can hold, per partition', () => {
    expect(readRanges(parseSelection({}), ends)).toEqual(ends);
    expect(readRanges(parseSelection({ partition: '1' }), ends)).toEqual(new Map([[1, [0, 5]]]));
    expect(readRanges(parseSelection({ 'from-offset': '4', 'to-offset': '6' }), ends)).toEqual(
      new Map([
        [0, [4, 7]],
        [1, [4, 5]],
      ]),
    );
    expect(readRanges(parseSelection({}, ['0:9', '0:3', '1:7']), ends)).toEqual(
      new Map([[0, [3, 10]]]),
    );
    expect(readRanges(parseSelection({ 'from-offset': '30' }), ends)).toEqual(new Map());
  });

  it('refuses a partition the dead-letter topic does not have, naming the ones it has', () => {
    expect(() =>
      checkPartitions(parseSelection({ partition: '1' }), ends, 'events.dlq'),
    ).not.toThrow();
    expect(() => checkPartitions(parseSelection({}, ['1:3']), ends, 'events.dlq')).not.toThrow();
    for (const selection of [
      parseSelection({ partition: '99' }),
      parseSelection({}, ['0:1', '2:0']),
    ]) {
      expect(() => checkPartitions(selection, ends, 'events.dlq')).toThrow(
        expect.objectContaining({
          code: 'CATCHALL_USAGE',
          message: expect.stringMatching(
            /^the dead-letter topic events.dlq has no partition (99|2) \(its partitions: 0 to 1\)$/,
          ) as unknown,
        }),
      );
    }
  });

  it('keeps a dead letter when every condition given holds', () => {
    const v = view(0, letter(7, 'undecodable', [2, 40], T0));
    expect(selects(parseSelection({}), v)).toBe(true);
    expect(selects(parseSelection({ reason: ['undecodable', 'invalid-domain'] }), v)).toBe(true);
    expect(selects(parseSelection({ reason: ['store-refused'] }), v)).toBe(false);
    expect(selects(parseSelection({ partition: '1' }), v)).toBe(false);
    expect(selects(parseSelection({ 'from-offset': '8' }), v)).toBe(false);
    expect(selects(parseSelection({ 'to-offset': '7' }), v)).toBe(true);
    expect(selects(parseSelection({ since: new Date(T0).toISOString() }), v)).toBe(true);
    expect(selects(parseSelection({ until: new Date(T0).toISOString() }), v)).toBe(false);
    expect(selects(parseSelection({}, ['0:7']), v)).toBe(true);
    expect(selects(parseSelection({}, ['0:8']), v)).toBe(false);
  });
});

describe('reading a dead letter', () => {
  it('takes its reason, original, origin and redrive count from the headers', () => {
    const v = view(0, letter(3, 'invalid-domain', [2, 40]));
    expect(v).toMatchObject({
      partition: 0,
      offset: 3,
      reason: 'invalid-domain',
      original: { topic: 'events', partition: 2, offset: 40 },
      origin: 'events:2:40',
      redriveCount: 0,
      bodyKept: true,
    });
    const again = view(
      0,
      letter(4, 'undecodable', [2, 99], T0, {
        'redrive-origin': 'events:2:40',
        'redrive-count': '2',
      }),
    );
    expect(again).toMatchObject({ origin: 'events:2:40', redriveCount: 2 });
    // A header naming no record before the original in its partition is no copy's: the
    // dead letter's origin is its own record (another partition, its offset, a later one,
    // another topic).
    for (const [named, original] of [
      ['events:1:40', [2, 99]],
      ['events:2:99', [2, 99]],
      ['events:2:100', [2, 99]],
      ['other:2:40', [2, 99]],
    ] as const) {
      const forged = view(
        0,
        letter(5, 'undecodable', [...original], T0, { 'redrive-origin': named }),
      );
      expect(forged.origin).toBe('events:2:99');
    }
  });

  it('tells a dead letter that kept no body', () => {
    const m = letter(5, 'undecodable', [0, 1], T0, { 'dlq-original-bytes': '2000000' });
    expect(view(0, m)).toMatchObject({ bodyKept: false, originalBytes: 2000000 });
  });
});

describe('the summary', () => {
  it('counts by reason, hour, partition and origin partition, with the oldest and newest', () => {
    const summary = summarize([
      view(0, letter(0, 'undecodable', [0, 1], T0)),
      view(0, letter(1, 'undecodable', [1, 1], T0 + HOUR)),
      view(1, letter(0, 'store-refused', [0, 2], T0 - HOUR, { 'redrive-count': '1' })),
    ]);
    expect(summary).toEqual({
      total: 3,
      oldest: { deadLetter: '1:0', at: new Date(T0 - HOUR).toISOString() },
      newest: { deadLetter: '0:1', at: new Date(T0 + HOUR).toISOString() },
      byReason: { 'store-refused': 1, undecodable: 2 },
      byHour: {
        '2026-11-30T09:00:00.000Z': 1,
        '2026-11-30T10:00:00.000Z': 1,
        '2026-11-30T11:00:00.000Z': 1,
      },
      byPartition: { '0': 2, '1': 1 },
      byOriginalPartition: { 'events:0': 2, 'events:1': 1 },
      redrivenBefore: 1,
    });
    expect(summarize([])).toMatchObject({ total: 0, oldest: null, newest: null });
  });
});

describe('the redrive plan', () => {
  const plan = (views: DeadLetterView[], states = new Map()) =>
    planRedrive(views, { maxRedrives: 3, states }).map((d) => [d.action, d.view.offset]);

  it('sends the first dead letter of each origin, and skips the others', () => {
    const views = [
      view(0, letter(0, 'undecodable', [0, 1])),
      view(0, letter(1, 'undecodable', [0, 1])),
      view(0, letter(2, 'undecodable', [0, 2])),
    ];
    expect(plan(views)).toEqual([
      ['send', 0],
      ['skipped', 1],
      ['send', 2],
    ]);
  });

  it('refuses a dead letter at the redrive limit, and one without its body', () => {
    const decisions = planRedrive(
      [
        view(
          0,
          letter(0, 'undecodable', [0, 1], T0, {
            'redrive-origin': 'events:0:0',
            'redrive-count': '3',
          }),
        ),
        view(
          0,
          letter(1, 'undecodable', [0, 2], T0, {
            'redrive-origin': 'events:0:1',
            'redrive-count': '2',
          }),
        ),
        view(0, letter(2, 'undecodable', [0, 3], T0, { 'dlq-original-bytes': '5' })),
      ],
      { maxRedrives: 3, states: new Map() },
    );
    expect(decisions.map((d) => d.action)).toEqual(['refused', 'send', 'refused']);
    expect(decisions[0]).toMatchObject({ why: expect.stringMatching(/redriven 3 times already/) });
    expect(decisions[2]).toMatchObject({
      why: expect.stringMatching(/kept no key or value.*events:0:3/),
    });
  });

  it('counts the redrives of an origin across its dead letters: the first one does not reset the counter', () => {
    const first = view(0, letter(0, 'undecodable', [0, 1]));
    const attempts = new Map([[attemptsKey('events:0:1', first.digest), 2]]);
    expect(planRedrive([first], { maxRedrives: 3, states: new Map(), attempts })).toMatchObject([
      { action: 'send', redriveCount: 2 },
    ]);
    // Copies of another value naming it are not its redrives.
    attempts.set(attemptsKey('events:0:1', valueDigest(Buffer.from('other'))), 3);
    expect(planRedrive([first], { maxRedrives: 3, states: new Map(), attempts })).toMatchObject([
      { action: 'send', redriveCount: 2 },
    ]);
    attempts.set(attemptsKey('events:0:1', first.digest), 3);
    expect(planRedrive([first], { maxRedrives: 3, states: new Map(), attempts })).toMatchObject([
      { action: 'refused', why: expect.stringMatching(/redriven 3 times already/) },
    ]);
  });

  it('refuses a dead letter of a record of another topic: its copy would be no copy of it', () => {
    const decisions = planRedrive([view(0, letter(0, 'undecodable', [0, 1]))], {
      maxRedrives: 3,
      states: new Map(),
      eventsTopic: 'renamed-events',
    });
    expect(decisions).toMatchObject([
      { action: 'refused', why: expect.stringMatching(/of topic events, not of the events topic/) },
    ]);
  });

  it('takes a dead letter the ledger remembered under its own place for its own: the origin it names and its redrive-count are not its', () => {
    // A producer's record at events:0:5 naming events:0:1, with redrive-count 999999999.
    const claimant = view(
      0,
      letter(7, 'not-wire-format', [0, 5], T0, {
        'redrive-origin': 'events:0:1',
        'redrive-count': '999999999',
      }),
    );
    const original = view(0, letter(8, 'not-wire-format', [0, 1]));
    const states = new Map([
      ['events:0:1', { state: 'counted' as const, countedAs: 'events:0:9', row: true }],
      ['events:0:5', { state: 'dead' as const, row: true }],
    ]);
    const decisions = planRedrive([claimant, original], { maxRedrives: 3, states });
    expect(decisions).toMatchObject([
      { action: 'send', origin: 'events:0:5', redriveCount: 0 },
      { action: 'skipped', origin: 'events:0:1', why: expect.stringMatching(/as events:0:9/) },
    ]);
    // Without a row of its place, the header is a copy's: the origin's fate and count.
    states.delete('events:0:5');
    expect(planRedrive([claimant], { maxRedrives: 3, states })).toMatchObject([
      { action: 'skipped', origin: 'events:0:1' },
    ]);
    states.set('events:0:1', { state: 'dead' as const, row: true });
    expect(planRedrive([claimant], { maxRedrives: 3, states })).toMatchObject([
      { action: 'refused', origin: 'events:0:1', why: expect.stringMatching(/999999999 times/) },
    ]);
  });

  it('skips origins the live version counted, from a copy or from the original', () => {
    const states = new Map([
      ['events:0:1', { state: 'counted', countedAs: 'events:1:50' }],
      ['events:0:2', { state: 'original-counted' }],
      ['events:0:3', { state: 'dead' }],
      ['events:0:4', { state: 'pending' }],
    ]);
    const decisions = planRedrive(
      [1, 2, 3, 4].map((o) => view(0, letter(o, 'store-refused', [0, o]))),
      { maxRedrives: 3, states: states as never },
    );
    expect(decisions.map((d) => d.action)).toEqual(['skipped', 'skipped', 'send', 'send']);
    expect(decisions[0]).toMatchObject({ why: expect.stringMatching(/as events:1:50/) });
    expect(decisions[1]).toMatchObject({ why: expect.stringMatching(/original record/) });
  });
});

describe('the lines of a redrive', () => {
  // send, skipped (same origin), refused (no body), send, send.
  const views = [
    view(0, letter(0, 'undecodable', [0, 1])),
    view(0, letter(1, 'undecodable', [0, 1])),
    view(0, letter(2, 'undecodable', [0, 3], T0, { 'dlq-original-bytes': '5' })),
    view(0, letter(3, 'store-refused', [1, 4])),
    view(1, letter(0, 'store-refused', [1, 5])),
  ];
  const plan = planRedrive(views, { maxRedrives: 3, states: new Map() });
  const verdicts = new Map(views.map((v) => [v, { outcome: 'counts' as const } as Verdict]));
  const said = (lines: RedriveLine[]) => lines.map((l) => [l.deadLetter, l.action, l.to]);

  it('says each line in plan order as soon as it is known: a sent one once Kafka acknowledged it', () => {
    expect(plan.map((d) => d.action)).toEqual(['send', 'skipped', 'refused', 'send', 'send']);
    const printed: RedriveLine[] = [];
    const output = createRedriveLines(plan, verdicts, false, (line) => printed.push(line));
    // Nothing acknowledged yet: the first line is a send, and every line after it waits.
    output.sent([]);
    expect(printed).toEqual([]);
    // The first chunk (two records) acknowledged: the lines up to the third send.
    output.sent(['0:10', '1:20']);
    expect(said(printed)).toEqual([
      ['0:0', 'redriven', '0:10'],
      ['0:1', 'skipped', undefined],
      ['0:2', 'refused', undefined],
      ['0:3', 'redriven', '1:20'],
    ]);
    output.sent(['0:10', '1:20', '1:21']);
    expect(said(printed).at(-1)).toEqual(['1:0', 'redriven', '1:21']);
    expect(printed).toHaveLength(5);
    expect(output.lines).toEqual(printed);
    expect(printed[2]).toMatchObject({ code: 'CATCHALL_REDRIVE_REFUSED', why: /kept no key/ });
    expect(printed[0]).toEqual({
      deadLetter: '0:0',
      reason: 'undecodable',
      origin: 'events:0:1',
      action: 'redriven',
      redriveCount: 1,
      now: 'counts',
      to: '0:10',
    });
  });

  it('says every line of a dry run at once, with nothing sent', () => {
    const printed: RedriveLine[] = [];
    createRedriveLines(plan, verdicts, true, (line) => printed.push(line)).sent([]);
    expect(printed.map((l) => l.action)).toEqual([
      'would-redrive',
      'skipped',
      'refused',
      'would-redrive',
      'would-redrive',
    ]);
    expect(printed.every((l) => l.to === undefined)).toBe(true);
  });
});

describe('a redrive of dead letters that would fail again', () => {
  it('refuses those the projector would dead-letter again now, and leaves the others', () => {
    const failing = view(0, letter(0, 'not-wire-format', [0, 1]));
    const fixed = view(0, letter(1, 'unknown-schema-id', [0, 2]));
    const skipped = view(0, letter(2, 'unknown-schema-id', [0, 2]));
    const plan = planRedrive([failing, fixed, skipped], { maxRedrives: 3, states: new Map() });
    const verdicts = new Map<DeadLetterView, Verdict>([
      [failing, { outcome: 'dead-letters', reason: 'not-wire-format', detail: 'no magic byte' }],
      [fixed, { outcome: 'counts', domain: 'a.com', type: 'delivered', occurredAt: 'x' }],
    ]);
    expect(refuseStillFailing(plan, verdicts)).toMatchObject([
      {
        action: 'refused',
        origin: 'events:0:1',
        why: 'dead letter 0:0 would be dead-lettered again now (not-wire-format: no magic byte): fix its cause first, or redrive it anyway with --even-if-failing',
      },
      { action: 'send', origin: 'events:0:2' },
      { action: 'skipped' },
    ]);
  });

  it('takes --even-if-failing for redrive only', () => {
    expect(parseDlqArgs(['redrive', '--all', '--even-if-failing'])).toMatchObject({
      evenIfFailing: true,
    });
    expect(parseDlqArgs(['redrive', '--all'])).toMatchObject({ evenIfFailing: false });
    expect(() => parseDlqArgs(['list', '--even-if-failing'])).toThrow(/list does not take/);
  });
});

describe('the headers shown', () => {
  it('shows text as a string, even one that reads base64:, and other bytes as { base64 }', () => {
    const shown = headersText({
      text: Buffer.from('base64:AAE='),
      binary: Buffer.from([0, 1]),
      control: Buffer.from('a\u0007b'),
      repeated: [Buffer.from('one'), Buffer.from([0xff])],
    });
    expect({ ...shown }).toEqual({
      text: 'base64:AAE=',
      binary: { base64: 'AAE=' },
      control: { base64: Buffer.from('a\u0007b').toString('base64') },
      repeated: ['one', { base64: '/w==' }],
    });
  });
});

describe('the redrive count', () => {
  it.each([
    ['3', 3],
    ['007', 7],
    ['999999999', 999999999],
    ['0', 0],
  ])('reads %p, a plain decimal whole number, as %p', (text, count) => {
    expect(redriveCount({ 'redrive-count': Buffer.from(text) })).toBe(count);
  });

  it.each(['1e3', '0x10', '0b11', ' 2', '2 ', '2.0', '+2', '-1', '', '1000000000', 'three'])(
    'counts %p, which is not one, as 0 redrives, as a missing header',
    (text) => {
      expect(redriveCount({ 'redrive-count': Buffer.from(text) })).toBe(0);
      expect(redriveCount({})).toBe(0);
    },
  );
});

describe('the redriven record', () => {
  it('keeps key, value and the original headers, drops the dead-letter ones and counts the redrive', () => {
    const v = view(0, letter(8, 'undecodable', [2, 40], T0, { 'redrive-count': '1' }));
    const message = redriveMessage({
      key: 'example.com',
      value: v.value,
      headers: v.headers,
      origin: v.origin!,
      redriveCount: v.redriveCount,
      from: { topic: 'events.dlq', partition: 0, offset: 8 },
    });
    expect(message.key).toBe('example.com');
    expect(message.value).toEqual(v.value);
    expect(Object.keys(message.headers!).sort()).toEqual([
      'redrive-count',
      'redrive-from',
      'redrive-origin',
      'trace',
    ]);
    expect(message.headers).toMatchObject({
      'redrive-origin': 'events:2:40',
      'redrive-count': '2',
      'redrive-from': 'events.dlq:0:8',
    });
  });

  it('keeps a header named like an Object member, `__proto__` included, in the copy and in the text view', () => {
    // As kafkajs decodes them: own properties of an object without a prototype.
    const headers = Object.create(null) as Record<string, Buffer>;
    headers['__proto__'] = Buffer.from('p');
    headers['toString'] = Buffer.from('t');
    const message = redriveMessage({
      key: null,
      value: Buffer.from('v'),
      headers,
      origin: 'events:0:1',
      redriveCount: 0,
      from: { topic: 'events.dlq', partition: 0, offset: 3 },
    });
    expect(Object.keys(message.headers!)).toContain('__proto__');
    expect(String(message.headers!['__proto__'])).toBe('p');
    expect(Object.keys(headersText(headers)).sort()).toEqual(['__proto__', 'toString']);
    expect(JSON.stringify(headersText(headers))).toBe('{"__proto__":"p","toString":"t"}');
  });

  it('names the origin it is a copy of when dead-lettered again, and its own place', () => {
    const headers = { 'redrive-origin': Buffer.from('events:1:40') };
    const value = Buffer.from('v');
    const digest = valueDigest(value);
    expect(redriveOrigin({ headers })).toBe('events:1:40');
    expect(deadLetteredRecord('events', 1, { headers, offset: '77', value })).toEqual({
      coordinates: 'events:1:77',
      copyOf: 'events:1:40',
      digest,
    });
    expect(deadLetteredRecord('events', 1, { headers: {}, offset: '77', value })).toEqual({
      coordinates: 'events:1:77',
      digest,
    });
    // Not before it in its partition: no copy of it.
    for (const [topic, partition, offset] of [
      ['events', 2, '77'],
      ['events', 1, '40'],
      ['events', 1, '39'],
      ['other', 1, '77'],
    ] as const) {
      expect(deadLetteredRecord(topic, partition, { headers, offset, value })).toEqual({
        coordinates: `${topic}:${partition}:${offset}`,
        digest,
      });
    }
    // A header a direct producer wrote that names no coordinates marks nothing.
    expect(redriveOrigin({ headers: { 'redrive-origin': 'whatever' } })).toBeUndefined();
  });

  it('is read back under its own place when the ledger holds a row of it, else under the origin it names', () => {
    const copy = { coordinates: 'events:1:77', copyOf: 'events:1:40' };
    expect(rememberedOrigin(copy, () => false)).toBe('events:1:40');
    expect(rememberedOrigin(copy, (o) => o === 'events:1:40')).toBe('events:1:40');
    expect(rememberedOrigin(copy, (o) => o === 'events:1:77')).toBe('events:1:77');
    expect(rememberedOrigin({ coordinates: 'events:1:77' }, () => false)).toBe('events:1:77');
  });
});

describe('reading the dead-letter topic', () => {
  const progress = { start: () => undefined, update: () => undefined, stop: () => undefined };
  /** Partition 0 holds offsets 2 to 4 (0 and 1 deleted by retention), partition 1 none. */
  const topic = () =>
    createInMemoryTopic('events.dlq', [
      [
        letter(2, 'undecodable', [0, 10]),
        letter(3, 'store-refused', [0, 11]),
        letter(4, 'undecodable', [0, 12], T0, {
          'redrive-origin': 'events:0:10',
          'redrive-count': '2',
        }),
      ],
      [],
    ]);

  it('reads the partition ends once for a redrive by coordinates, and checks them against that read', async () => {
    const deadLetters = topic();
    const { views, attempts } = await redriveSelection(
      { deadLetters, progress },
      parseSelection({}, ['0:3', '0:4']),
    );
    expect(views.map((v) => v.offset)).toEqual([3, 4]);
    expect(attempts.get(attemptsKey('events:0:10', views[1]!.digest))).toBe(2);
    // The whole topic, for the redrive counts of every origin.
    expect(deadLetters.reads).toEqual({ ends: 1, records: 1, handed: 3 });
  });

  it.each([
    ['0:1', /^no dead letter at 0:1: partition 0 holds offsets 2 to 4$/],
    ['0:5', /^no dead letter at 0:5: partition 0 holds offsets 2 to 4$/],
    ['1:0', /^no dead letter at 1:0: partition 1 holds none$/],
  ])(
    'refuses a redrive of %s, where no dead letter is, after one read of the ends',
    async (at, message) => {
      const deadLetters = topic();
      await expect(
        redriveSelection({ deadLetters, progress }, parseSelection({}, ['0:2', at])),
      ).rejects.toThrow(message);
      expect(deadLetters.reads.ends).toBe(1);
    },
  );

  it('shows a missing dead letter with the offsets the one read found', async () => {
    const deadLetters = topic();
    await expect(
      showCommand({ deadLetters, progress }, jsonDecoder, { partition: 0, offset: 9 }),
    ).rejects.toThrow(/^no dead letter at 0:9: partition 0 holds offsets 2 to 4$/);
    expect(deadLetters.reads.ends).toBe(1);
  });

  it('ends a show of a missing dead letter with its message alone, exit 2: the command line was not malformed', async () => {
    const err: unknown = await showCommand({ deadLetters: topic(), progress }, jsonDecoder, {
      partition: 0,
      offset: 99,
    }).catch((e: unknown) => e);
    expect(dlqFailure(err, USAGE)).toEqual({
      stderr: 'CATCHALL_USAGE: no dead letter at 0:99: partition 0 holds offsets 2 to 4',
      exitCode: 2,
    });
    const outside: unknown = await redriveSelection(
      { deadLetters: topic(), progress },
      parseSelection({ partition: '7' }),
    ).catch((e: unknown) => e);
    expect(dlqFailure(outside, USAGE)).toEqual({
      stderr:
        'CATCHALL_USAGE: the dead-letter topic events.dlq has no partition 7 (its partitions: 0 to 1)',
      exitCode: 2,
    });
    // A malformed command line still prints the usage after the message.
    const malformed = (() => {
      try {
        return parseDlqArgs(['show', '0:x']);
      } catch (e) {
        return e;
      }
    })();
    const failure = dlqFailure(malformed, USAGE);
    expect(failure.exitCode).toBe(2);
    expect(failure.stderr).toBe(
      `CATCHALL_USAGE: dead letters are named <partition>:<offset> (as list prints them), got "0:x"\n\n${USAGE}`,
    );
  });

  it('shows the fields of a body that decoded but was refused, a time no date can hold included', async () => {
    // Past what a Date holds (8.64e15 ms), as a direct producer's Avro long may be.
    const occurredAt = 9e15;
    const value = Buffer.from(
      JSON.stringify({
        eventId: 'e1',
        eventIdOrigin: 'client',
        domain: 'Example.COM',
        type: 'bounced',
        occurredAt,
        source: 'mta-7',
      }),
    );
    const deadLetters = createInMemoryTopic('events.dlq', [
      [{ ...letter(0, 'time-out-of-range', [0, 3]), value }],
    ]);
    const shown = await showCommand({ deadLetters, progress }, jsonDecoder, {
      partition: 0,
      offset: 0,
    });
    expect(shown.decoded).toEqual({
      writerSchemaId: null,
      eventId: 'e1',
      eventIdOrigin: 'client',
      domain: 'Example.COM',
      type: 'bounced',
      occurredAt,
      occurredAtUtc: null,
      source: 'mta-7',
    });
    expect(shown.now).toMatchObject({ outcome: 'dead-letters', reason: 'time-out-of-range' });
  });

  describe('a storm of dead letters', () => {
    /** 2 partitions of 1000 dead letters each, 2 reasons alternating, an hour apart. */
    const storm = () =>
      createInMemoryTopic(
        'events.dlq',
        [0, 1].map((p) =>
          Array.from({ length: 1000 }, (_, i) =>
            letter(i, i % 2 === 0 ? 'undecodable' : 'store-refused', [p, i], T0 + i * HOUR),
          ),
        ),
      );
    const listed = async (deadLetters: ReturnType<typeof storm>, args: string[]) => {
      const lines: ListEntry[] = [];
      const parsed = parseDlqArgs(['list', ...args]);
      if (parsed.help || parsed.command === 'show') throw new Error('not a list');
      await listCommand({ deadLetters, progress }, parsed.selection, (e) => lines.push(e));
      return lines.map((e) => e.deadLetter);
    };

    it('lists the first dead letter with --limit 1 reading one record of each partition', async () => {
      const deadLetters = storm();
      expect(await listed(deadLetters, ['--limit', '1'])).toEqual(['0:0']);
      expect(deadLetters.reads.handed).toBe(2);
    });

    it('ends its progress at the total when a --limit stops the reading early', async () => {
      const shown: number[] = [];
      const counting = { ...progress, update: (n: number) => shown.push(n) };
      const parsed = parseDlqArgs(['list', '--limit', '1']);
      if (parsed.help || parsed.command === 'show') throw new Error('not a list');
      await listCommand({ deadLetters: storm(), progress: counting }, parsed.selection, () => {});
      expect(shown.at(-1)).toBe(2000);
    });

    it('lists the first N in topic order, partition then offset, reading at most N of each partition', async () => {
      const deadLetters = storm();
      expect(await listed(deadLetters, ['--limit', '3', '--reason', 'store-refused'])).toEqual([
        '0:1',
        '0:3',
        '0:5',
      ]);
      // Up to the third store-refused of each partition (offset 5), not the 1000 records.
      expect(deadLetters.reads.handed).toBe(12);
    });

    it('lists every dead letter without a limit, each as it is read, in offset order per partition', async () => {
      const deadLetters = storm();
      const lines = await listed(deadLetters, []);
      expect(lines).toHaveLength(2000);
      for (const p of [0, 1]) {
        const offsets = lines.filter((l) => l.startsWith(`${p}:`)).map((l) => Number(l.slice(2)));
        expect(offsets).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      }
    });

    it('summarizes as it reads, with the counts of the views it was given', async () => {
      const deadLetters = storm();
      const all = [0, 1].flatMap((p) =>
        Array.from({ length: 1000 }, (_, i) =>
          view(p, letter(i, i % 2 === 0 ? 'undecodable' : 'store-refused', [p, i], T0 + i * HOUR)),
        ),
      );
      const summary = await summaryCommand({ deadLetters, progress }, parseSelection({}));
      expect(summary).toEqual(summarize(all));
      expect(summary.byReason).toEqual({ 'store-refused': 1000, undecodable: 1000 });
      expect(Object.keys(summary.byHour)).toHaveLength(1000);
    });

    it('keeps --limit dead letters for a redrive, and only the origins redriven before as counts', async () => {
      const deadLetters = createInMemoryTopic('events.dlq', [
        Array.from({ length: 1000 }, (_, i) =>
          letter(
            i,
            'undecodable',
            [0, i],
            T0,
            i === 999 ? { 'redrive-origin': 'events:0:3', 'redrive-count': '2' } : {},
          ),
        ),
      ]);
      const { views, attempts } = await redriveSelection(
        { deadLetters, progress },
        parseSelection({ limit: '1' }, []),
      );
      expect(views.map((v) => v.offset)).toEqual([0]);
      expect([...attempts]).toEqual([[attemptsKey('events:0:3', views[0]!.digest), 2]]);
      expect(deadLetters.reads.handed).toBe(1000);
    });
  });

  it('checks coordinates against the ends it is given, without reading', () => {
    const ends = new Map<number, [number, number]>([[0, [2, 5]]]);
    expect(() => checkDeadLettersHeld(ends, [{ partition: 0, offset: 4 }])).not.toThrow();
    expect(() => checkDeadLettersHeld(ends, [{ partition: 0, offset: 5 }])).toThrow(
      expect.objectContaining({ code: 'CATCHALL_USAGE' }),
    );
  });
});

describe('the topics the dlq tools need', () => {
  const config = { EVENTS_TOPIC: 'nope', KAFKA_BROKERS: '127.0.0.1:9092' };

  it('names the dead-letter topic and the events topic it comes from: a configuration error, exit 2', () => {
    expect(topicsOf('summary', 'nope')).toEqual(['nope.dlq']);
    expect(topicsOf('redrive', 'nope')).toEqual(['nope.dlq', 'nope']);
    const missing = (() => {
      try {
        return checkTopicsExist(['nope.dlq'], config);
      } catch (e) {
        return e;
      }
    })();
    expect(dlqFailure(missing, USAGE)).toEqual({
      stderr:
        'CATCHALL_INVALID_CONFIG: the dead-letter topic nope.dlq (EVENTS_TOPIC "nope" and .dlq) does not exist at 127.0.0.1:9092: set EVENTS_TOPIC to the projector\'s events topic, or create the topics with npm run setup',
      exitCode: 2,
    });
  });

  it('names the events topic redrive writes to when it alone is missing', () => {
    expect(() => checkTopicsExist(['nope'], config)).toThrow(
      /^the events topic nope \(EVENTS_TOPIC\), which redrive writes to, does not exist at 127\.0\.0\.1:9092: /,
    );
    expect(() => checkTopicsExist([], config)).not.toThrow();
  });
});

describe('the dlq configuration', () => {
  const base = { KAFKA_BROKERS: '127.0.0.1:9092' };

  it('refuses a redrive without DATABASE_URL: a configuration error, exit 2, said before anything connects', () => {
    for (const env of [base, { ...base, DATABASE_URL: '' }]) {
      const err = (() => {
        try {
          return loadDlqConfig(env, 'redrive');
        } catch (e) {
          return e;
        }
      })();
      expect(dlqFailure(err, USAGE)).toEqual({
        stderr:
          "CATCHALL_INVALID_CONFIG: Invalid configuration: DATABASE_URL is not set, and redrive reads the live read model's redrive ledger in Postgres: set DATABASE_URL (or DATABASE_URL_FILE) to the database the projector writes (npm start prints its own)",
        exitCode: 2,
      });
    }
  });

  it('takes DATABASE_URL for a redrive as given, and reads without it', () => {
    const url = 'postgres://app@db.example:5432/catchall';
    expect(loadDlqConfig({ ...base, DATABASE_URL: url }, 'redrive').DATABASE_URL).toBe(url);
    for (const command of ['summary', 'list', 'show']) {
      expect(loadDlqConfig(base, command).KAFKA_BROKERS).toBe('127.0.0.1:9092');
    }
  });
});
