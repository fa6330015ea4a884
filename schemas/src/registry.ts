import { errorCatalogue } from '@catchall/core/domain';

/** Compatibility levels of the Confluent API; BACKWARD lets consumers upgrade first. */
export type Compatibility =
  | 'NONE'
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE';

type RegistryErrorName = 'registryUnavailable' | 'schemaRejected';

/**
 * A call to the schema registry that failed: `registryUnavailable` (retriable) when the
 * registry could not be reached or failed, `schemaRejected` when it refused the schema.
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

async function call(url: string, init: RequestInit): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      headers: { 'content-type': CONTENT_TYPE, accept: CONTENT_TYPE },
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    throw new RegistryError(
      `schema registry at ${url} is unreachable: ${(err as Error).message}`,
      'registryUnavailable',
    );
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page, say): keep the text for the message.
  }
  if (response.status >= 500) {
    throw new RegistryError(
      `schema registry answered ${response.status}: ${text}`,
      'registryUnavailable',
    );
  }
  return { status: response.status, body };
}

export interface SchemaOptions {
  /** Base URL of the Confluent-compatible API, e.g. http://host:8080/apis/ccompat/v7 */
  registryUrl: string;
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
  const registered = await call(`${subjectUrl}/versions`, {
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
