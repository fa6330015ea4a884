import { errorCatalogue } from '@catchall/core/domain';

export type DecodeFailure = 'not-wire-format' | 'unknown-schema-id' | 'undecodable';

/** A record that can never be decoded, however often it is retried: dead-letter it. */
export class DecodeError extends Error {
  readonly code = errorCatalogue.undecodable.code;
  readonly retriable = errorCatalogue.undecodable.retriable;
  constructor(
    readonly reason: DecodeFailure,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The registry does not know a record's schema id (yet): a registry that lags behind or was
 * restored from a backup may know it soon, so the record is retried before it is given up.
 */
export class SchemaIdNotYetKnown extends Error {
  readonly code = errorCatalogue.schemaIdUnknown.code;
  readonly retriable = errorCatalogue.schemaIdUnknown.retriable;
}
