export type DecodeFailure = 'not-wire-format' | 'unknown-schema-id' | 'undecodable';

/** A record that can never be decoded, however often it is retried: dead-letter it. */
export class DecodeError extends Error {
  readonly code = 'CATCHALL_UNDECODABLE';
  readonly retriable = false;
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
  readonly code = 'CATCHALL_SCHEMA_ID_UNKNOWN';
  readonly retriable = true;
}
