/**
 * The pure side of schemas/: the Avro contract, the wire format and the decoding of any
 * writer schema behind a lookup port. Loads avsc and nothing that does I/O (no registry
 * client), so a tool that brings its own way to the registry can use it.
 */
export * from './domain-event';
export * from './decode-error';
export * from './wire-format';
export * from './event-decoder';
export * from './writer-projection';
