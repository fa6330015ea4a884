import { errorCatalogue } from '@catchall/core/domain';
import {
  registryConnection,
  registryRequest,
  type RegistryAnswer,
  type RegistryAuth,
  type RegistryConnectionSettings,
} from './registry-access';

/** Compatibility levels of the Confluent API; BACKWARD lets consumers upgrade first. */
export type Compatibility =
  | 'NONE'
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE';

type RegistryErrorName = 'registryUnavailable' | 'schemaRejected' | 'accessRefused';

/**
 * A call to the schema registry that failed: `registryUnavailable` (retriable) when the
 * registry could not be reached or failed, `schemaRejected` when it refused the schema,
 * `accessRefused` when it refused the credentials (401, 403) or its certificate is not
 * trusted.
 * Code and `retriable` come from the catalogue entry named.
 */
export class RegistryError extends Error {
  readonly code: (typeof errorCatalogue)[RegistryErrorName]['code'];
  readonly retriable: boolean;
  constructor(message: string, name: RegistryErrorName) {
    super(message);
    this.code = errorCatalogue[name].code;
    this.retriable = errorCatalogue[name].retriable;
  }
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/** The registry's address without credentials or path, for messages. */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the schema registry';
  }
}

const CREDENTIALS_HINT =
  'check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD, or SCHEMA_REGISTRY_TOKEN';

/** A TLS handshake that failed on a certificate: Node's and OpenSSL's error codes. */
export function isTlsFailure(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^(ERR_TLS_|ERR_SSL_)|CERT|SIGNATURE|^DEPTH_ZERO/.test(code);
}

/** The RegistryError of a request that got no answer: a TLS refusal, or unreachable. */
export function unreachable(url: string, err: unknown): RegistryError {
  const code = (err as { code?: unknown }).code;
  if (isTlsFailure(err)) {
    return new RegistryError(
      `schema registry at ${origin(url)}: TLS handshake failed (${String(code)}: ${(err as Error).message}); check SCHEMA_REGISTRY_CA_FILE and that SCHEMA_REGISTRY_URL names a host its certificate covers`,
      'accessRefused',
    );
  }
  return new RegistryError(
    `schema registry at ${origin(url)} is unreachable: ${(err as Error).message}`,
    'registryUnavailable',
  );
}

/** The RegistryError of a 401 or 403 answer. */
export function refused(url: string, status: number): RegistryError {
  return new RegistryError(
    `schema registry at ${origin(url)} refused access (${status}); ${CREDENTIALS_HINT}`,
    'accessRefused',
  );
}

async function call(
  url: string,
  auth: RegistryAuth | undefined,
  init: { method: string; body?: string; timeoutMs?: number },
): Promise<{ status: number; body: unknown }> {
  let response: RegistryAnswer;
  try {
    response = await registryRequest(url, auth, {
      ...init,
      headers: { 'content-type': CONTENT_TYPE, accept: CONTENT_TYPE },
      timeoutMs: init.timeoutMs ?? 5000,
    });
  } catch (err) {
    throw unreachable(url, err);
  }
  const { text } = response;
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page, say): keep the text for the message.
  }
  if (response.status === 401 || response.status === 403) throw refused(url, response.status);
  if (response.status >= 500) {
    throw new RegistryError(
      `schema registry answered ${response.status}: ${text}`,
      'registryUnavailable',
    );
  }
  return { status: response.status, body };
}

/**
 * Asks the registry once for its subjects, at start: credentials it refuses or a
 * certificate that is not trusted throw RegistryError `accessRefused`, naming the registry
 * and the settings to check, so that the program stops instead of retrying for ever; so does
 * a URL that answers GET /subjects with a 4xx or anything but a JSON array (no registry
 * there). A registry that does not answer, or answers 5xx, passes (the program reports it
 * and keeps trying).
 */
export async function checkRegistryAccess(options: {
  registryUrl: string;
  registryAuth?: RegistryAuth;
}): Promise<void> {
  const url = `${options.registryUrl.replace(/\/$/, '')}/subjects`;
  let answer: { status: number; body: unknown };
  try {
    answer = await call(url, options.registryAuth, { method: 'GET' });
  } catch (err) {
    if ((err as RegistryError).code === errorCatalogue.accessRefused.code) throw err;
    return;
  }
  // A 4xx to the simplest request of the API is no registry at this URL: an http URL to an
  // https port (nginx's 400), a wrong path (404). Retrying cannot mend it, and the program
  // would otherwise run with its schema never registered or found.
  if (answer.status >= 400 || !Array.isArray(answer.body)) {
    throw new RegistryError(
      `schema registry at ${origin(url)} does not answer as a Confluent-compatible registry (GET /subjects: ${answer.status}); check SCHEMA_REGISTRY_URL: its scheme (http or https), host, port and path (Apicurio: /apis/ccompat/v7)`,
      'accessRefused',
    );
  }
}

/**
 * The registry URL and authentication of a loaded configuration (registryConnection), its
 * access checked once (checkRegistryAccess): what every program that talks to the registry
 * opens at start. Throws RegistryError `accessRefused` as checkRegistryAccess does; a
 * registry that does not answer yet passes.
 */
export async function connectRegistry(
  config: RegistryConnectionSettings,
): Promise<{ registryUrl: string; registryAuth: RegistryAuth }> {
  const access = registryConnection(config);
  await checkRegistryAccess(access);
  return access;
}

/**
 * Asks the registry for its global compatibility level (Confluent API `GET /config`), a
 * small answer whatever the registry holds, within `timeoutMs`: the probe of the
 * projector's `schemaRegistry` readiness check. Throws RegistryError `registryUnavailable`
 * when it does not answer in time, fails or answers anything but 2xx, `accessRefused` when
 * it refuses the credentials or its certificate is not trusted.
 */
export async function pingRegistry(options: {
  registryUrl: string;
  registryAuth?: RegistryAuth;
  timeoutMs: number;
}): Promise<void> {
  const url = `${options.registryUrl.replace(/\/$/, '')}/config`;
  const answer = await call(url, options.registryAuth, {
    method: 'GET',
    timeoutMs: options.timeoutMs,
  });
  if (answer.status >= 300) {
    throw new RegistryError(
      `schema registry answered ${answer.status} to GET /config`,
      'registryUnavailable',
    );
  }
}

export interface SchemaOptions {
  /** Base URL of the Confluent-compatible API, e.g. http://host:8080/apis/ccompat/v7 */
  registryUrl: string;
  /** Credentials and CA of the registry (registryConnection), when it asks for them. */
  registryAuth?: RegistryAuth;
  subject: string;
  schema: Record<string, unknown>;
}

/**
 * Registers the schema under the subject (idempotent: the same schema gets the same id) and
 * then sets the subject's compatibility level. Done through the REST API rather than the
 * client library's register(), which reads and sets the level first; Apicurio's
 * Confluent-compatible API has answered 404 to that for a subject with no versions yet.
 */
export async function registerSchema(
  options: SchemaOptions & { compatibility: Compatibility },
): Promise<number> {
  const subjectUrl = `${options.registryUrl}/subjects/${encodeURIComponent(options.subject)}`;
  const registered = await call(`${subjectUrl}/versions`, options.registryAuth, {
    method: 'POST',
    body: JSON.stringify({ schema: JSON.stringify(options.schema), schemaType: 'AVRO' }),
  });
  if (registered.status !== 200) {
    throw new RegistryError(
      `schema registry refused the schema for ${options.subject} (${registered.status}): ${JSON.stringify(registered.body)}`,
      'schemaRejected',
    );
  }
  const config = await call(
    `${options.registryUrl}/config/${encodeURIComponent(options.subject)}`,
    options.registryAuth,
    { method: 'PUT', body: JSON.stringify({ compatibility: options.compatibility }) },
  );
  if (config.status !== 200) {
    throw new RegistryError(
      `schema registry refused compatibility ${options.compatibility} for ${options.subject} (${config.status})`,
      'schemaRejected',
    );
  }
  return (registered.body as { id: number }).id;
}

/** Finds the id of an already registered schema (for production, where writers do not register). */
export async function lookupSchema(options: SchemaOptions): Promise<number> {
  const found = await call(
    `${options.registryUrl}/subjects/${encodeURIComponent(options.subject)}`,
    options.registryAuth,
    {
      method: 'POST',
      body: JSON.stringify({ schema: JSON.stringify(options.schema), schemaType: 'AVRO' }),
    },
  );
  if (found.status !== 200) {
    throw new RegistryError(
      `schema is not registered under ${options.subject} (${found.status}); register it or turn on auto-registration`,
      'schemaRejected',
    );
  }
  return (found.body as { id: number }).id;
}
