import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type avro from 'avsc';
import { errorCatalogue } from '@catchall/core/domain';
import { createSchemaDecoder, type EventDecoder, type UnknownSchemaPolicy } from './event-decoder';
import { refused, RegistryError } from './registry';
import { registryClientArgs, registryRequest, type RegistryAuth } from './registry-access';
import { createWireEncoder, type EventEncoder } from './wire-format';
import { writerTypeOptions } from './writer-projection';

/**
 * The registry side of the codec: looks writer schemas up over HTTP and hands them to the
 * pure encoder and decoder (wire-format.ts, event-decoder.ts).
 */

/** How long one schema lookup may take before it counts as a registry failure (retried). */
const LOOKUP_TIMEOUT_MS = 5000;

/** A lookup the registry did not answer in time: the registry, not the record, is at fault. */
class LookupTimeout extends Error {
  readonly code = errorCatalogue.registryUnavailable.code;
  readonly retriable = errorCatalogue.registryUnavailable.retriable;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LookupTimeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Looks writer schema `schemaId` up once at `registryUrl`; encoding is then pure CPU.
 * Throws RegistryError `registryUnavailable` when the lookup fails.
 */
export async function createEventEncoder(options: {
  registryUrl: string;
  /** Credentials and CA of the registry (registryConnection), when it asks for them. */
  registryAuth?: RegistryAuth;
  schemaId: number;
}): Promise<EventEncoder> {
  const registry = new SchemaRegistry(
    registryClientArgs(options.registryUrl, options.registryAuth),
  );
  let writerType: avro.Type;
  try {
    writerType = (await registry.getSchema(options.schemaId)) as unknown as avro.Type;
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    if (status === 401 || status === 403) throw refused(options.registryUrl, status);
    throw new RegistryError(
      `schema registry lookup of id ${options.schemaId} failed: ${(err as Error).message}`,
      'registryUnavailable',
    );
  }
  return createWireEncoder(writerType, options.schemaId);
}

export interface EventDecoderOptions extends UnknownSchemaPolicy {
  registryUrl: string;
  /** Credentials and CA of the registry (registryConnection), when it asks for them. */
  registryAuth?: RegistryAuth;
  /** How long one schema lookup may take before it counts as a registry failure (5,000 ms). */
  lookupTimeoutMs?: number;
}

/**
 * The schema text the registry answers for `id` (Confluent API `GET /schemas/ids/{id}`,
 * field `schema`), or undefined when the answer holds none or does not come within 5 s.
 */
async function schemaTextOf(
  registryUrl: string,
  auth: RegistryAuth | undefined,
  id: number,
): Promise<string | undefined> {
  try {
    const response = await registryRequest(
      `${registryUrl.replace(/\/$/, '')}/schemas/ids/${id}`,
      auth,
      { method: 'GET', timeoutMs: LOOKUP_TIMEOUT_MS },
    );
    const body = JSON.parse(response.text) as { schema?: unknown };
    return response.status >= 200 && response.status < 300 && typeof body.schema === 'string'
      ? body.schema
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The schema registry at `registryUrl` as the decoder's lookup port (Confluent API
 * `GET /schemas/ids/{id}`, through @kafkajs/confluent-schema-registry): 404 is `not-found`,
 * any other HTTP answer (mappersmith reports a failed connection as 400) or none in time
 * rejects with RegistryError `registryUnavailable`, as does an answer that holds no schema;
 * a schema the client cannot parse (avsc refuses it) is `unparseable`.
 */
function registryLookup(registryUrl: string, auth: RegistryAuth | undefined, timeoutMs: number) {
  const client = () =>
    new SchemaRegistry(registryClientArgs(registryUrl, auth), {
      forSchemaOptions: writerTypeOptions(),
    });
  let registry = client();
  return async (id: number) => {
    try {
      return {
        kind: 'found',
        schema: await withTimeout(registry.getSchema(id), timeoutMs),
      } as const;
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      if (status === 404) return { kind: 'not-found' } as const;
      // The client shares one request per id among its callers and has no timeout of its
      // own: a request that hangs would answer every later lookup of that id. A new client
      // asks again.
      if (err instanceof LookupTimeout) registry = client();
      // Refused credentials stay retriable here: the records are not at fault, and the
      // projector waits (not ready) until the credentials are mended, dead-lettering nothing.
      const hint =
        status === 401 || status === 403
          ? '; check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD, or SCHEMA_REGISTRY_TOKEN'
          : '';
      if (typeof status === 'number' || err instanceof LookupTimeout) {
        throw new RegistryError(
          `schema registry lookup of id ${id} failed: ${(err as Error).message}${hint}`,
          'registryUnavailable',
        );
      }
      // The client failed on the answer. Only a schema the registry really holds and avsc
      // refuses is unparseable for good; an answer holding no schema (a proxy's page, an
      // empty body: the client reports both alike) is the registry's fault, retried.
      if ((await schemaTextOf(registryUrl, auth, id)) === undefined) {
        throw new RegistryError(
          `schema registry lookup of id ${id} gave no schema: ${(err as Error).message}`,
          'registryUnavailable',
        );
      }
      return { kind: 'unparseable', reason: (err as Error).message } as const;
    }
  };
}

/**
 * Decodes any writer schema of the subject into a domain event, looking writer schemas up
 * in the registry at `registryUrl` (see createSchemaDecoder for the rules).
 */
export function createEventDecoder(options: EventDecoderOptions): EventDecoder {
  const lookup = registryLookup(
    options.registryUrl,
    options.registryAuth,
    options.lookupTimeoutMs ?? LOOKUP_TIMEOUT_MS,
  );
  return createSchemaDecoder(lookup, options);
}
