import avro from 'avsc';
import { DecodeError, SchemaIdNotYetKnown } from './decode-error';
import { domainEventSchema, type DecodedDomainEvent } from './domain-event';
import { readWireBody, wireSchemaId } from './wire-format';
import { createWriterReader, readsAsContract, type EventReader } from './writer-projection';

export interface EventDecoder {
  decode(value: Buffer | null): Promise<DecodedDomainEvent>;
  /**
   * The same, without a promise, when the writer schema is known already (the hot path);
   * undefined when it must be looked up first (then call decode).
   */
  decodeKnown(value: Buffer | null): DecodedDomainEvent | undefined;
}

/** What a schema registry answered for a schema id. */
export type WriterSchemaAnswer =
  /** The parsed writer schema: an avro.Type, or another value for a JSON Schema or Protobuf id. */
  | { kind: 'found'; schema: unknown }
  /** The registry does not know the id (HTTP 404). */
  | { kind: 'not-found' }
  /** The registry holds a schema under the id that cannot be parsed. */
  | { kind: 'unparseable'; reason: string };

/**
 * The decoder's port to a schema registry: the writer schema of an id. Rejects (with a
 * retriable error, such as RegistryError `registryUnavailable`) when the registry could not
 * be asked or did not answer; such failures are never cached.
 */
export type WriterSchemaLookup = (id: number) => Promise<WriterSchemaAnswer>;

/** Unknown schema ids remembered at most (a few MB). */
const MAX_UNKNOWN_IDS = 100_000;

/** Default of EventDecoderOptions.unknownSchemaRetryMs (and of SCHEMA_UNKNOWN_RETRY_MS). */
export const DEFAULT_UNKNOWN_SCHEMA_RETRY_MS = 30000;

export interface UnknownSchemaPolicy {
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

/** The reader of a schema id that is not Avro: every record of it is undecodable. */
function refuseAll(message: string): EventReader {
  return () => {
    throw new DecodeError('undecodable', message);
  };
}

/**
 * Decodes Confluent wire-format values of any writer schema of the subject into domain
 * events (see createWriterReader for the resolution rules), asking `lookup` for writer
 * schemas by id. No I/O of its own: the registry is behind the port. A reader is built
 * once per writer id; an id whose schema is unparseable or not Avro is remembered as such.
 * An unknown id is retried for `unknownSchemaRetryMs`, then dead-lettered, and asked for
 * again after as long. Errors: DecodeError (dead-letter the record), SchemaIdNotYetKnown
 * and the lookup's rejections (retry it).
 */
export function createSchemaDecoder(
  lookup: WriterSchemaLookup,
  options: UnknownSchemaPolicy = {},
): EventDecoder {
  const now = options.now ?? Date.now;
  const retryMs = options.unknownSchemaRetryMs ?? DEFAULT_UNKNOWN_SCHEMA_RETRY_MS;
  const readerType = avro.Type.forSchema(domainEventSchema as avro.Schema);
  const readSame: EventReader = (body) => readerType.fromBuffer(body) as DecodedDomainEvent;
  const loading = new Map<number, Promise<EventReader>>();
  const loaded = new Map<number, EventReader>();
  /**
   * Ids the registry answered 404 for: since when, and when it was last asked. At most
   * MAX_UNKNOWN_IDS, the oldest forgotten first (a storm of random ids must not grow it
   * without bound); a forgotten id is only asked about again.
   */
  const unknown = new Map<number, { since: number; askedAt: number }>();
  /** When an unknown id was last given up (dead-lettered). */
  let lastGaveUp = -Infinity;

  function readerOf(answer: WriterSchemaAnswer & { kind: 'found' | 'unparseable' }, id: number) {
    // The registry answered with a schema the client cannot parse (a name outside Avro's
    // [A-Za-z_][A-Za-z0-9_]*, which the registry does not check): an id's schema never
    // changes, so the answer is kept and its records fail without asking again.
    if (answer.kind === 'unparseable') {
      return refuseAll(`writer schema ${id} cannot be parsed: ${answer.reason}`);
    }
    // A JSON Schema or Protobuf id (the registry holds those too) is no Avro writer.
    // avsc's own check (duck-typed: the registry client may hold another copy of avsc).
    const writer = answer.schema;
    if (!avro.Type.isType(writer)) return refuseAll(`schema id ${id} is not an Avro schema`);
    return readsAsContract(writer as avro.Type, readerType)
      ? readSame
      : createWriterReader(writer as avro.Type, id);
  }

  async function loadReader(id: number): Promise<EventReader> {
    const answer = await lookup(id);
    if (answer.kind === 'not-found') throw notKnown(id);
    unknown.delete(id);
    const reader = readerOf(answer, id);
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
    if (unknown.size > MAX_UNKNOWN_IDS) unknown.delete(unknown.keys().next().value!);
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

  return {
    async decode(value) {
      const id = wireSchemaId(value);
      return readWireBody(await readerFor(id), value!);
    },
    decodeKnown(value) {
      const reader = loaded.get(wireSchemaId(value));
      return reader === undefined ? undefined : readWireBody(reader, value!);
    },
  };
}
