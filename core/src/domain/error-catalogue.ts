/** The HTTP APIs: `ingest` (producer-api) and `query` (query-api). */
export type HttpApi = 'ingest' | 'query';

interface ErrorFields {
  readonly code: `CATCHALL_${string}`;
  readonly message: string;
  readonly retriable: boolean;
}

/**
 * One entry of the error catalogue.
 * - `code`: stable, `CATCHALL_*`; public once released (README "Errors"), so never renamed.
 * - `statusCode`: the HTTP status an API answers with; absent for an error that stays inside
 *   a service (it shows in log lines as `err.code`, in the CLIs' exit codes, in dead letters).
 * - `answeredBy`: for an HTTP error, the APIs whose routes answer with it (the route's
 *   hooks, body parsing, validation and handler); empty for a code answered only before a
 *   route is chosen (Node's HTTP parser, the router, the not-found handler). An API's
 *   refusal metrics export a series for each of its codes from the start (see codesAnsweredBy).
 * - `message`: for an HTTP error, the answer's message, `%s` and `%d` filled by the arguments
 *   of its constructor (`errors.<name>(...)`); for an internal error, what it means.
 * - `retriable`: true when the same operation may succeed later unchanged. `isRetriable`
 *   reads it, and with it the projector's pause, the ingest answer and the query API's 503.
 */
export type ErrorDefinition =
  | (ErrorFields & { readonly statusCode: number; readonly answeredBy: readonly HttpApi[] })
  | (ErrorFields & { readonly statusCode?: never; readonly answeredBy?: never });

/**
 * Every error code of the system, defined once (ARCHITECTURE.md, section 8 "An error code").
 * Pure data, so that the domain rules and the pure contract code (`schemas/`) can take their
 * codes from it without loading fastify, kafkajs or pg. `errors` (core's runtime) makes the
 * HTTP answers of the entries with a `statusCode`; the error classes of the services take
 * `code` and `retriable` from theirs. The README's "Errors" tables list every code and
 * `test/contract/error-catalogue.unit.test.ts` checks that they agree.
 */
export const errorCatalogue = {
  // Answers of the HTTP APIs (README "Errors").
  invalidDomain: {
    code: 'CATCHALL_INVALID_DOMAIN',
    statusCode: 400,
    answeredBy: ['ingest', 'query'],
    message: 'Invalid domain "%s": it %s. Send a host name such as example.com',
    retriable: false,
  },
  invalidBatch: {
    code: 'CATCHALL_INVALID_BATCH',
    statusCode: 400,
    answeredBy: ['ingest'],
    message:
      'The batch was refused, nothing was accepted: %d of its events are invalid (see errors)',
    retriable: false,
  },
  invalidBody: {
    code: 'CATCHALL_INVALID_BODY',
    statusCode: 400,
    answeredBy: ['ingest', 'query'],
    message: 'Invalid body: %s',
    retriable: false,
  },
  invalidRequest: {
    code: 'CATCHALL_INVALID_REQUEST',
    statusCode: 400,
    answeredBy: ['ingest', 'query'],
    message: 'Invalid request: %s',
    retriable: false,
  },
  invalidEventTime: {
    code: 'CATCHALL_INVALID_EVENT_TIME',
    statusCode: 400,
    answeredBy: ['ingest'],
    message: 'Invalid %s "%s": send an RFC 3339 date-time such as 2024-05-01T12:00:00Z',
    retriable: false,
  },
  badRequest: {
    code: 'CATCHALL_BAD_REQUEST',
    statusCode: 400,
    answeredBy: ['ingest', 'query'],
    message: 'Malformed HTTP request (%s); nothing was read',
    retriable: false,
  },
  badUrl: {
    code: 'CATCHALL_BAD_URL',
    statusCode: 400,
    answeredBy: [],
    message: 'The path %s is not valid percent-encoded UTF-8',
    retriable: false,
  },
  invalidCursor: {
    code: 'CATCHALL_INVALID_CURSOR',
    statusCode: 400,
    answeredBy: ['query'],
    message: 'Invalid cursor: send back the nextCursor of the previous page unchanged',
    retriable: false,
  },
  invalidConsistencyToken: {
    code: 'CATCHALL_INVALID_CONSISTENCY_TOKEN',
    statusCode: 400,
    answeredBy: ['query'],
    message:
      'Invalid Consistency-Token: %s. Send the consistencyToken of an ingest answer, or <topic>:<partition>:<offset>[,<partition>:<offset>...] for the topic %s',
    retriable: false,
  },
  unauthorized: {
    code: 'CATCHALL_UNAUTHORIZED',
    statusCode: 401,
    answeredBy: ['ingest', 'query'],
    message: 'Send a valid token in the Authorization header: Bearer <token>',
    retriable: false,
  },
  routeNotFound: {
    code: 'CATCHALL_ROUTE_NOT_FOUND',
    statusCode: 404,
    answeredBy: [],
    message: 'No route %s %s',
    retriable: false,
  },
  domainNotSeen: {
    code: 'CATCHALL_DOMAIN_NOT_SEEN',
    statusCode: 404,
    answeredBy: ['query'],
    message: 'No event has been counted for %s yet',
    retriable: false,
  },
  methodNotAllowed: {
    code: 'CATCHALL_METHOD_NOT_ALLOWED',
    statusCode: 405,
    answeredBy: [],
    message: 'Method %s is not allowed on %s; the Allow header lists those that are',
    retriable: false,
  },
  requestTimeout: {
    code: 'CATCHALL_REQUEST_TIMEOUT',
    statusCode: 408,
    answeredBy: [],
    message: 'The request was not received completely in time; send it again',
    retriable: true,
  },
  bodyTooLarge: {
    code: 'CATCHALL_BODY_TOO_LARGE',
    statusCode: 413,
    answeredBy: ['ingest', 'query'],
    message: 'The body is larger than this route takes: at most %d bytes (after decompression)',
    retriable: false,
  },
  batchTooLarge: {
    code: 'CATCHALL_BATCH_TOO_LARGE',
    statusCode: 413,
    answeredBy: ['ingest'],
    message: 'A batch may hold at most %d events; split it',
    retriable: false,
  },
  lookupTooLarge: {
    code: 'CATCHALL_LOOKUP_TOO_LARGE',
    statusCode: 413,
    answeredBy: ['query'],
    message: 'A lookup may hold at most %d domains; split it',
    retriable: false,
  },
  uriTooLong: {
    code: 'CATCHALL_URI_TOO_LONG',
    statusCode: 414,
    answeredBy: [],
    message:
      'A path segment is longer than %d characters once percent-decoded; a domain may have at most %d characters as sent',
    retriable: false,
  },
  unsupportedMediaType: {
    code: 'CATCHALL_UNSUPPORTED_MEDIA_TYPE',
    statusCode: 415,
    answeredBy: ['ingest', 'query'],
    message:
      'Unsupported Content-Type %s: send application/json (or application/x-ndjson to POST /events)',
    retriable: false,
  },
  unsupportedEncoding: {
    code: 'CATCHALL_UNSUPPORTED_ENCODING',
    statusCode: 415,
    answeredBy: ['ingest', 'query'],
    message: 'Unsupported Content-Encoding %s: send gzip, deflate, br or identity',
    retriable: false,
  },
  unsupportedTransferCoding: {
    code: 'CATCHALL_UNSUPPORTED_TRANSFER_CODING',
    statusCode: 400,
    answeredBy: ['ingest', 'query'],
    message:
      'Unsupported Transfer-Encoding %s: send chunked alone (RFC 9112 section 6.1), and compress with Content-Encoding',
    retriable: false,
  },
  expectationFailed: {
    code: 'CATCHALL_EXPECTATION_FAILED',
    statusCode: 417,
    answeredBy: [],
    message: 'Unsupported Expect header %s: only 100-continue is supported',
    retriable: false,
  },
  rateLimited: {
    code: 'CATCHALL_RATE_LIMITED',
    statusCode: 429,
    answeredBy: ['ingest'],
    message: 'Too many requests from this client; retry in %s',
    retriable: true,
  },
  headersTooLarge: {
    code: 'CATCHALL_HEADERS_TOO_LARGE',
    statusCode: 431,
    answeredBy: [],
    message: 'The request line and headers are larger than %d bytes',
    retriable: false,
  },
  internal: {
    code: 'CATCHALL_INTERNAL',
    statusCode: 500,
    answeredBy: ['ingest', 'query'],
    message: 'Internal error; it was logged',
    retriable: false,
  },
  unavailable: {
    code: 'CATCHALL_UNAVAILABLE',
    statusCode: 503,
    answeredBy: ['ingest', 'query'],
    message: '%s is unavailable; nothing was accepted, retry later',
    retriable: true,
  },
  overloaded: {
    code: 'CATCHALL_OVERLOADED',
    statusCode: 503,
    answeredBy: ['ingest'],
    message: 'The ingest queue is full; nothing was accepted, retry later',
    retriable: true,
  },
  timeout: {
    code: 'CATCHALL_TIMEOUT',
    statusCode: 503,
    answeredBy: ['ingest'],
    message:
      'Kafka did not acknowledge within %d ms; the event may or may not be stored, retry with the same event id',
    retriable: true,
  },
  commitUnknown: {
    code: 'CATCHALL_COMMIT_UNKNOWN',
    statusCode: 503,
    answeredBy: ['ingest'],
    message:
      'Kafka did not confirm that the events were stored (%s); they may or may not be stored, retry with the same event ids',
    retriable: true,
  },
  consistencyTimeout: {
    code: 'CATCHALL_CONSISTENCY_TIMEOUT',
    statusCode: 503,
    answeredBy: ['query'],
    message:
      'The read model has not applied the records of the Consistency-Token within %d ms; retry later with the same token',
    retriable: true,
  },

  // Errors inside the services (README "Errors inside the services").
  postgresUnavailable: {
    code: 'CATCHALL_POSTGRES_UNAVAILABLE',
    message: 'Postgres could not be reached, or refused for now (SQLSTATE 08, 40, 53, 57, 58)',
    retriable: true,
  },
  postgresRefused: {
    code: 'CATCHALL_POSTGRES_REFUSED',
    message: 'Postgres refused the values written (SQLSTATE 22, 23)',
    retriable: false,
  },
  postgresFailed: {
    code: 'CATCHALL_POSTGRES_FAILED',
    message: 'Postgres failed in a way that retrying cannot mend (a missing table, say)',
    retriable: false,
  },
  undecodable: {
    code: 'CATCHALL_UNDECODABLE',
    message: 'a record that can never be decoded; it is dead-lettered',
    retriable: false,
  },
  schemaIdUnknown: {
    code: 'CATCHALL_SCHEMA_ID_UNKNOWN',
    message: 'the registry does not know a schema id of a record yet; retried for a window',
    retriable: true,
  },
  registryUnavailable: {
    code: 'CATCHALL_REGISTRY_UNAVAILABLE',
    message: 'the schema registry could not be reached or failed',
    retriable: true,
  },
  schemaRejected: {
    code: 'CATCHALL_SCHEMA_REJECTED',
    message: 'the schema registry refused the event schema (incompatible, or malformed)',
    retriable: false,
  },
  invalidConfig: {
    code: 'CATCHALL_INVALID_CONFIG',
    message: 'a configuration variable is missing or wrong; the program does not start',
    retriable: false,
  },
  accessRefused: {
    code: 'CATCHALL_ACCESS_REFUSED',
    message:
      'Kafka, the schema registry or Postgres refused the credentials, or its certificate is not trusted; the program does not start, and the message names the settings to check',
    retriable: false,
  },
  clusterMismatch: {
    code: 'CATCHALL_CLUSTER_MISMATCH',
    message: 'the stored positions belong to another Kafka cluster; the projector stops',
    retriable: false,
  },
  positionConflict: {
    code: 'CATCHALL_POSITION_CONFLICT',
    message:
      'another member moved the position of a partition first; the flush is dropped and read again',
    retriable: true,
  },
  eventIdsExpired: {
    code: 'CATCHALL_EVENT_IDS_EXPIRED',
    message:
      'a table of event ids was dropped (expired) while a flush wrote to it; the flush is read again and tried once more',
    retriable: true,
  },
  eventIdIndexMissing: {
    code: 'CATCHALL_EVENT_ID_INDEX_MISSING',
    message:
      "a read-model version's event ids have no unique index and it cannot be built, since a try of an event is stored twice (a rebuild started from a build older than migration 1700000000009); the projector stops: rebuild the version",
    retriable: false,
  },
  eventCountedConcurrently: {
    code: 'CATCHALL_EVENT_COUNTED_CONCURRENTLY',
    message:
      'a flush of another partition counted a try of the same event after this flush looked; the flush is read again and sees it',
    retriable: true,
  },
  producerFailed: {
    code: 'CATCHALL_PRODUCER_FAILED',
    message:
      'a Kafka producer failed in a way a new producer mends (fenced, an unknown producer id or sequence after a broker restart); the producer is replaced',
    retriable: true,
  },
  consumerGroup: {
    code: 'CATCHALL_CONSUMER_GROUP',
    message: 'the consumer group itself failed (a heartbeat); kafkajs rejoins or is replaced',
    retriable: true,
  },
  readModelVersion: {
    code: 'CATCHALL_READ_MODEL_VERSION',
    message: 'a read model version does not exist or cannot take the operation asked',
    retriable: false,
  },
  rebuildRefused: {
    code: 'CATCHALL_REBUILD_REFUSED',
    message: 'a rebuild was refused before anything was written; the message says why',
    retriable: false,
  },
  notReady: {
    code: 'CATCHALL_NOT_READY',
    message:
      'something the service needs does not answer or work (yet); /readyz or /healthz names it',
    retriable: true,
  },
  shutdownFailed: {
    code: 'CATCHALL_SHUTDOWN_FAILED',
    message: 'a resource failed to close at shutdown; the process exits non-zero',
    retriable: false,
  },
  schemaBehind: {
    code: 'CATCHALL_SCHEMA_BEHIND',
    message:
      'the read model lacks migrations this program reads through and it does not migrate (npm run dlq -- redrive); run npm run setup, or start the projector',
    retriable: false,
  },
  usage: {
    code: 'CATCHALL_USAGE',
    message:
      'the command line (replay, dlq) is wrong, and the usage is printed; or a dlq command line names a dead letter or partition the dead-letter topic does not have, and the message says what it holds',
    retriable: false,
  },
  redriveRefused: {
    code: 'CATCHALL_REDRIVE_REFUSED',
    message:
      'a dead letter was not redriven: it was redriven --max-redrives times already, kept no body, or would be dead-lettered again now (--even-if-failing sends it anyway); the message says which',
    retriable: false,
  },
} as const satisfies Record<string, ErrorDefinition>;

/** The name of a catalogue entry (`invalidDomain`). */
export type ErrorName = keyof typeof errorCatalogue;
/** Every code of the catalogue, as a union of literals. */
export type ErrorCode = (typeof errorCatalogue)[ErrorName]['code'];
/** The entries an API answers with (those with an HTTP status). */
export type HttpErrorName = {
  [N in ErrorName]: (typeof errorCatalogue)[N] extends { statusCode: number } ? N : never;
}[ErrorName];

/**
 * The codes the routes of `api` answer with (entries whose `answeredBy` names it), in
 * catalogue order: the `reason` values an API's refusal counter exports at 0 from the start,
 * so that a code added to the catalogue for the API adds its series.
 */
export function codesAnsweredBy(api: HttpApi): ErrorCode[] {
  return (Object.values(errorCatalogue) as ErrorDefinition[])
    .filter((entry) => entry.answeredBy?.includes(api) === true)
    .map((entry) => entry.code as ErrorCode);
}
