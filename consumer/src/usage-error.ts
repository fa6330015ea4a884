import { errorCatalogue } from '@catchall/core';

/** A command line (replay, dlq) that is wrong: the command prints its usage and exits 2. */
export class UsageError extends Error {
  readonly code = errorCatalogue.usage.code;
  readonly retriable = errorCatalogue.usage.retriable;
}

/**
 * A well-formed dlq command line naming what the dead-letter topic does not hold (a dead
 * letter at `PARTITION:OFFSET`, a partition): exit 2 as a UsageError, but the message alone,
 * which names what the topic holds; the usage would not help.
 */
export class NotInTopic extends UsageError {}
