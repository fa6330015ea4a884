import { parseArgs } from 'node:util';
import {
  isNarrowed,
  parseDeadLetterCoordinates,
  parseSelection,
  wholeNumber,
} from './dead-letter-selection';
import { DEAD_LETTER_REASONS } from './record-decoder';
import { UsageError } from './usage-error';
import { MAX_REDRIVE_COUNT } from './redrive';

/** Default of --max-redrives: a record that failed this many redrives needs a person. */
export const DEFAULT_MAX_REDRIVES = 3;

/** The reasons, four to a line, indented under the option. */
function reasonLines(): string {
  const lines: string[] = [];
  for (let i = 0; i < DEAD_LETTER_REASONS.length; i += 4) {
    lines.push(' '.repeat(26) + DEAD_LETTER_REASONS.slice(i, i + 4).join(', '));
  }
  return lines.join(',\n');
}

export const USAGE = `Reads and redrives the dead-letter topic (<EVENTS_TOPIC>.dlq).

usage: npm run -s dlq -- <command> [options]    (or, once built: node consumer/dist/dlq-cli.js)
       -s keeps npm's "> catch-all@... dlq" banner off stdout: needed when the output is piped

commands (each takes the options shown and --json; any other option is refused, and so is
an option given twice, but --reason):
  summary [selection]     counts by reason, by hour, by partition; the oldest and newest
  list [selection] [--limit N]
                          the dead letters with their headers, one per line: with --limit,
                          the first N by partition, then offset; without, each as it is read
                          (offset order within a partition, partitions interleaved)
  show PARTITION:OFFSET   one dead letter in full: headers, key, value (hex, base64), the
                          decoded event, and what the projector would do with it now
  redrive [PARTITION:OFFSET ...] [selection] [--limit N] [--dry-run] [--max-redrives N]
          [--even-if-failing] [--all]
                          writes the selected dead letters back to the events topic, keyed
                          by their normalized domain, with the headers redrive-origin,
                          redrive-count and redrive-from; the projector counts each origin
                          at most once (its redrive ledger), however often it is redriven.
                          Needs a selection (--reason, --partition, offsets, times,
                          coordinates) or --all. Reads the live read model version's
                          redrive ledger in Postgres (the only command that does), whose
                          schema must be current (npm run setup, or a projector's start).
    --dry-run               say what would be redriven, skipped or refused; write nothing
    --max-redrives N        refuse a dead letter redriven N times already (default ${DEFAULT_MAX_REDRIVES})
    --even-if-failing       send dead letters the projector would dead-letter again now too
                            (refused otherwise: their cause is not fixed yet)
    --all                   redrive every dead letter (with no other selection)

selection (summary, list, redrive; all given must hold):
  --reason R              dead letters of reason R (dlq-reason); repeat for several; one of
${reasonLines()}
  --partition P           partition P of the dead-letter topic only (one it has; once)
  --from-offset N         offsets N and after (of each partition read)
  --to-offset N           offsets up to N, inclusive
  --since TIME            dead letters written at or after TIME
  --until TIME            dead letters written before TIME
                          TIME: a date YYYY-MM-DD (its start, UTC) or an RFC 3339 date and
                          time YYYY-MM-DDTHH:MM:SS[.fff] with Z or ±HH:MM
  --limit N               the first N only (list, redrive)
                          N, P: plain decimal digits (0x10, 1e3, 5.0 are refused)

output:
  --json                  JSON lines on stdout even on a terminal (the default otherwise:
                          npm run -s dlq -- summary | jq .total)
  -h, --help              this text

On a terminal, progress is a bar on stderr; otherwise JSON log lines on stderr.
Exit codes: 0 done; 1 a failure (Kafka, the registry or Postgres, or a read model schema
behind this version; Kafka is given 15 s to answer first); 2 a wrong command line, a dead
letter or partition that is not there, or a wrong configuration (a topic EVENTS_TOPIC names
that does not exist, redrive without DATABASE_URL); 3 redrive refused some dead letters (--max-redrives reached, a dead
letter without its body, or one that would fail again), the others were redriven.
It reads the consumer's configuration (KAFKA_BROKERS, EVENTS_TOPIC, SCHEMA_REGISTRY_URL,
DATABASE_URL, ...), as the services do; summary and list use Kafka alone, show Kafka and
the registry, redrive those and Postgres: DATABASE_URL (or DATABASE_URL_FILE) must be set.`;

const COMMANDS = ['summary', 'list', 'show', 'redrive'] as const;
type Command = (typeof COMMANDS)[number];

/** The options that take a number. */
const NUMBER_OPTIONS = ['--partition', '--from-offset', '--to-offset', '--limit', '--max-redrives'];

const OPTIONS = {
  reason: { type: 'string', multiple: true },
  partition: { type: 'string' },
  'from-offset': { type: 'string' },
  'to-offset': { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'even-if-failing': { type: 'boolean' },
  'max-redrives': { type: 'string' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;
type OptionName = keyof typeof OPTIONS;

const SELECTION: readonly OptionName[] = [
  'reason',
  'partition',
  'from-offset',
  'to-offset',
  'since',
  'until',
];

/**
 * The options each command uses (USAGE says the same); any other is refused rather than
 * ignored, so that `summary --limit 5` does not answer as if the limit applied.
 */
export const COMMAND_OPTIONS: Record<Command, readonly OptionName[]> = {
  summary: [...SELECTION, 'json'],
  list: [...SELECTION, 'limit', 'json'],
  show: ['json'],
  redrive: [...SELECTION, 'limit', 'dry-run', 'max-redrives', 'even-if-failing', 'all', 'json'],
};

/**
 * `--limit -5` as `--limit=-5`: node's parseArgs takes a value that starts with a dash for an
 * option of its own and answers that the option's argument is ambiguous; joined, the value
 * reaches the number check, which says what a number option takes.
 */
function joinNegativeNumbers(argv: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (NUMBER_OPTIONS.includes(arg) && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i += 1;
    } else joined.push(arg);
  }
  return joined;
}

/**
 * A UsageError naming the first option given more than once, `--reason` aside (it repeats:
 * any of the reasons). A selection holds one partition, one offset range, one time range
 * and one limit; taking the last of several would answer, or redrive, something else than
 * the command line says (`redrive --partition 1 --partition 2` redrove partition 2 alone).
 */
function checkRepeats(tokens: readonly { kind: string; name?: string }[]): void {
  const seen = new Map<string, number>();
  for (const token of tokens) {
    if (token.kind !== 'option' || token.name === undefined) continue;
    const times = (seen.get(token.name) ?? 0) + 1;
    seen.set(token.name, times);
    const multiple = (OPTIONS as Record<string, { multiple?: boolean }>)[token.name]?.multiple;
    if (times > 1 && multiple !== true) {
      throw new UsageError(
        `--${token.name} is given more than once; give it once (only --reason repeats)`,
      );
    }
  }
}

/** A UsageError when an option given is not one `command` uses, naming those it takes. */
function checkOptionsOf(command: Command, given: readonly string[]): void {
  const takes = COMMAND_OPTIONS[command];
  const foreign = given.filter((name) => !(takes as readonly string[]).includes(name));
  if (foreign.length === 0) return;
  throw new UsageError(
    `${command} does not take ${foreign.map((n) => `--${n}`).join(', ')}; it takes ${takes
      .map((n) => `--${n}`)
      .join(', ')}`,
  );
}

/**
 * The command line: the command, its positional arguments and the options. Throws
 * UsageError (node's own message for an unknown option) for a line that is wrong, an option
 * the command does not use (COMMAND_OPTIONS) or one given twice (all but `--reason`) among
 * them. `json`, `dryRun`, `evenIfFailing` and `all` are
 * false when not given; `maxRedrives` is DEFAULT_MAX_REDRIVES then.
 */
export function parseDlqArgs(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeNumbers(argv),
      allowPositionals: true,
      options: OPTIONS,
      tokens: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
  const { values, positionals, tokens } = parsed;
  checkRepeats(tokens);
  const [command, ...rest] = positionals;
  const json = values.json ?? false;
  if (values.help || command === undefined) {
    return { help: true as const, helpAsked: values.help ?? false };
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new UsageError(`unknown command "${command}" (one of ${COMMANDS.join(', ')})`);
  }
  checkOptionsOf(
    command as Command,
    Object.keys(values).filter((k) => values[k as OptionName] !== undefined),
  );
  if (command === 'show') {
    if (rest.length !== 1) throw new UsageError('show takes one PARTITION:OFFSET');
    return {
      help: false as const,
      command: 'show' as const,
      at: parseDeadLetterCoordinates(rest[0]!),
      json,
    };
  }
  if (command !== 'redrive' && rest.length > 0) {
    throw new UsageError(`${command} takes no arguments, got "${rest.join(' ')}"`);
  }
  const selection = parseSelection(values, rest);
  const maxRedrives =
    values['max-redrives'] === undefined
      ? DEFAULT_MAX_REDRIVES
      : // The highest redrive-count the tools read back (redriveCount: up to 9 digits).
        wholeNumber('--max-redrives', values['max-redrives'], 1, MAX_REDRIVE_COUNT);
  const all = values.all ?? false;
  if (command === 'redrive') {
    if (all && isNarrowed(selection)) {
      throw new UsageError('--all redrives every dead letter; give it without a selection');
    }
    if (!all && !isNarrowed(selection)) {
      throw new UsageError(
        'redrive needs a selection (--reason, --partition, offsets, times or PARTITION:OFFSET), or --all',
      );
    }
  }
  return {
    help: false as const,
    command: command as Exclude<Command, 'show'>,
    selection,
    maxRedrives,
    dryRun: values['dry-run'] ?? false,
    evenIfFailing: values['even-if-failing'] ?? false,
    all,
    json,
  };
}
