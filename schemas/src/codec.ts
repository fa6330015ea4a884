import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { errorCatalogue } from '@catchall/core/domain';
import { domainEventSchema, type DecodedDomainEvent, type DomainEvent } from './domain-event';
import { DecodeError, SchemaIdNotYetKnown } from './decode-error';

export { DecodeError, SchemaIdNotYetKnown, type DecodeFailure } from './decode-error';
import { RegistryError } from './registry';
import {
  createWriterReader,
  readsAsContract,
  writerTypeOptions,
  type EventReader,
} from './writer-projection';

/** Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then the Avro body. */
const MAGIC = 0;
const HEADER = 5;

export interface EventEncoder {
  readonly schemaId: number;
  /** Confluent wire format with the writer schema `schemaId`; synchronous, no I/O. */
  encode(event: DomainEvent): Buffer;
}

export interface EventDecoder {
  decode(value: Buffer | null): Promise<DecodedDomainEvent>;
  /**
   * The same, without a promise, when the writer schema is known already (the hot path);
   * undefined when it must be looked up first (then call decode).
   */
  decodeKnown(value: Buffer | null): DecodedDomainEvent | undefined;
}

/** Looks the writer schema up once; encoding is then pure CPU. */
export async function createEventEncoder(options: {
  registryUrl: string;
  schemaId: number;
}): Promise<EventEncoder> {
  const registry = new SchemaRegistry({ host: options.registryUrl });
  let writerType: avro.Type;
  try {
    writerType = (await registry.getSchema(options.schemaId)) as unknown as avro.Type;
  } catch (err) {
    throw new RegistryError(
      `schema registry lookup of id ${options.schemaId} failed: ${(err as Error).message}`,
      'registryUnavailable',
    );
  }
  // Header and body written once into scratch space, then copied out into one exact-size
  // buffer: no zero-filled body buffer and no concatenation per event.
  const scratch = Buffer.alloc(64 * 1024);
  scratch.writeUInt8(MAGIC, 0);
  scratch.writeInt32BE(options.schemaId, 1);
  return {
    schemaId: options.schemaId,
    encode(event) {
      const end = writerType.encode(event, scratch, HEADER);
      // Negative: the event does not fit in the scratch space.
      if (end < 0) return Buffer.concat([scratch.subarray(0, HEADER), writerType.toBuffer(event)]);
      const value = Buffer.allocUnsafe(end);
      scratch.copy(value, 0, 0, end);
      return value;
    },
  };
}

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

/** The reader of a schema id that is not Avro: every record of it is undecodable. */
function notAvro(id: number): EventReader {
  return () => {
    throw new DecodeError('undecodable', `schema id ${id} is not an Avro schema`);
  };
}

/** Default of EventDecoderOptions.unknownSchemaRetryMs (and of SCHEMA_UNKNOWN_RETRY_MS). */
export const DEFAULT_UNKNOWN_SCHEMA_RETRY_MS = 30000;

export interface EventDecoderOptions {
  registryUrl: string;
  /**
   * How long records with a schema id the registry does not know are retried (the
   * SchemaIdNotYetKnown error, retriable) before they are dead-lettered as
   * `unknown-schema-id`, in milliseconds. Counted from the first such answer for the id;
   * the registry is asked again at least this often afterwards, so an id it learns later
   * is read from then on. Within this time after an id was given up, another unknown id is
   * given up at once: the registry was just waited on, so a storm of ids it does not know
   * costs one wait, not one per id.
   */
  unknownSchemaRetryMs?: number;
  /** The clock, in epoch milliseconds (tests pass their own). */
  now?: () => number;
}

/**
 * Decodes any writer schema of the subject into a domain event (see createWriterReader for
 * the resolution rules). The registry client looks writer schemas up by id; a reader is
 * built once per writer id. Transient registry failures are never cached; an unknown id is
 * retried for `unknownSchemaRetryMs`, then dead-lettered, and asked for again after as long.
 */
export function createEventDecoder(options: EventDecoderOptions): EventDecoder {
  const registry = new SchemaRegistry(
    { host: options.registryUrl },
    { forSchemaOptions: writerTypeOptions() },
  );
  const now = options.now ?? Date.now;
  const retryMs = options.unknownSchemaRetryMs ?? DEFAULT_UNKNOWN_SCHEMA_RETRY_MS;
  const readerType = avro.Type.forSchema(domainEventSchema as avro.Schema);
  const readSame: EventReader = (body) => readerType.fromBuffer(body) as DecodedDomainEvent;
  const loading = new Map<number, Promise<EventReader>>();
  const loaded = new Map<number, EventReader>();
  /** Ids the registry answered 404 for: since when, and when it was last asked. */
  const unknown = new Map<number, { since: number; askedAt: number }>();
  /** When an unknown id was last given up (dead-lettered). */
  let lastGaveUp = -Infinity;

  async function loadReader(id: number): Promise<EventReader> {
    let writer: unknown;
    try {
      writer = await withTimeout(registry.getSchema(id), LOOKUP_TIMEOUT_MS);
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      if (status === 404) throw notKnown(id);
      // An HTTP answer (mappersmith reports a failed connection as 400) or no answer at
      // all: the registry, not the record, is the problem.
      if (typeof status === 'number' || err instanceof LookupTimeout) {
        throw new RegistryError(
          `schema registry lookup of id ${id} failed: ${(err as Error).message}`,
          'registryUnavailable',
        );
      }
      // The registry answered with a schema the client cannot parse (a name outside
      // Avro's [A-Za-z_][A-Za-z0-9_]*, which the registry does not check): an id's schema
      // never changes, so the answer is kept and its records fail without asking again.
      const message = `writer schema ${id} cannot be parsed: ${(err as Error).message}`;
      const refuse: EventReader = () => {
        throw new DecodeError('undecodable', message);
      };
      unknown.delete(id);
      loaded.set(id, refuse);
      return refuse;
    }
    unknown.delete(id);
    // A JSON Schema or Protobuf id (the registry holds those too) is no Avro writer.
    // avsc's own check (duck-typed: the registry client may hold another copy of avsc).
    const reader = !avro.Type.isType(writer)
      ? notAvro(id)
      : readsAsContract(writer as avro.Type, readerType)
        ? readSame
        : createWriterReader(writer as avro.Type, id);
    loaded.set(id, reader);
    return reader;
  }

  function notKnown(id: number): Error {
    const at = now();
    // Right after the registry has been waited on for a whole window, it is not lagging:
    // another unknown id is given up at once instead of stalling its partition again.
    const since = at - lastGaveUp < retryMs ? at - retryMs : at;
    const entry = unknown.get(id) ?? { since, askedAt: at };
    entry.askedAt = at;
    unknown.set(id, entry);
    return verdict(id, entry.since);
  }

  function verdict(id: number, since: number): Error {
    const waited = now() - since;
    if (waited < retryMs) {
      return new SchemaIdNotYetKnown(
        `schema id ${id} is not in the registry (yet): retrying for ${retryMs - waited} ms more`,
      );
    }
    lastGaveUp = now();
    return new DecodeError(
      'unknown-schema-id',
      `schema id ${id} is not in the registry (asked for ${Math.round(waited / 1000)} s)`,
    );
  }

  function readerFor(id: number): Promise<EventReader> {
    const known = unknown.get(id);
    if (known) {
      // Asked again at most once a second while retrying, once a window after giving up.
      const givenUp = now() - known.since >= retryMs;
      const askEvery = givenUp ? retryMs : Math.min(1000, retryMs);
      if (now() - known.askedAt < askEvery) return Promise.reject(verdict(id, known.since));
    }
    let reader = loading.get(id);
    if (!reader) {
      reader = loadReader(id);
      loading.set(id, reader);
      // Only a found schema stays cached; every failure is asked about again.
      reader.catch(() => loading.delete(id));
    }
    return reader;
  }

  function checkHeader(value: Buffer | null): asserts value is Buffer {
    if (!value || value.length < HEADER || value.readUInt8(0) !== MAGIC) {
      throw new DecodeError('not-wire-format', 'value is not in the Confluent wire format');
    }
  }

  function read(reader: EventReader, value: Buffer): DecodedDomainEvent {
    try {
      return reader(value.subarray(HEADER));
    } catch (err) {
      if (err instanceof DecodeError) throw err;
      throw new DecodeError(
        'undecodable',
        `Avro body cannot be decoded: ${(err as Error).message}`,
      );
    }
  }

  return {
    async decode(value) {
      checkHeader(value);
      return read(await readerFor(value.readInt32BE(1)), value);
    },
    decodeKnown(value) {
      checkHeader(value);
      const reader = loaded.get(value.readInt32BE(1));
      return reader === undefined ? undefined : read(reader, value);
    },
  };
}
