import type { EventEncoder } from '@catchall/schemas';
import type { SchemaRegistration } from '../../producer-api/src/schema-registration';

/** The event itself as JSON, standing in for the registry's Avro encoder. */
export const jsonEncoder: EventEncoder = {
  schemaId: 1,
  encode: (event) => Buffer.from(JSON.stringify(event)),
};

/** A schema registration that is registered already and never fails: the ingest API's port. */
export const readySchema: SchemaRegistration = {
  encoder: () => jsonEncoder,
  start: () => Promise.resolve(),
  stop: () => undefined,
  check: () => Promise.resolve(),
};
