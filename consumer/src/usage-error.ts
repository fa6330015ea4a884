import { errorCatalogue } from '@catchall/core';

/** A command line (replay, dlq) that is wrong: the command prints its usage and exits 2. */
export class UsageError extends Error {
  readonly code = errorCatalogue.usage.code;
  readonly retriable = errorCatalogue.usage.retriable;
}
