import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { domainEventSchema, type DecodedDomainEvent, type DomainEvent } from './domain-event';
import { RegistryError } from './registry';

/** Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then the Avro body. */
const MAGIC = 0;
const HEADER = 5;

export type DecodeFailure = 'not-wire-format' | 'unknown-schema-id' | 'undecodable';

/** A record that can never be decoded, however often it is retried: dead-letter it. */
export class DecodeError extends Error {
  readonly retriable = false;
  constructor(
    readonly reason: DecodeFailure,
    message: string,
  ) {
    super(message);
  }
}

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

interface Reader {
  read(body: Buffer): DecodedDomainEvent;
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
      'CATCHALL_REGISTRY_UNAVAILABLE',
      true,
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

/**
 * Decodes any writer schema of the subject into this reader's schema (Avro schema
 * resolution: an added optional field is dropped, an unknown enum symbol becomes the
 * enum's default). The registry client looks writer schemas up by id and caches them;
 * resolvers are built once per writer id.
 */
export function createEventDecoder(options: { registryUrl: string }): EventDecoder {
  const registry = new SchemaRegistry({ host: options.registryUrl });
  const readerType = avro.Type.forSchema(domainEventSchema as avro.Schema);
  const readers = new Map<number, Promise<Reader>>();
  const loaded = new Map<number, Reader>();

  async function loadReader(id: number): Promise<Reader> {
    let writer: avro.Type;
    try {
      writer = (await registry.getSchema(id)) as unknown as avro.Type;
    } catch (err) {
      if ((err as { status?: number }).status === 404) {
        throw new DecodeError('unknown-schema-id', `schema id ${id} is not in the registry`);
      }
      throw new RegistryError(
        `schema registry lookup of id ${id} failed: ${(err as Error).message}`,
        'CATCHALL_REGISTRY_UNAVAILABLE',
        true,
      );
    }
    if (writer.equals(readerType)) {
      const reader = { read: (body: Buffer) => readerType.fromBuffer(body) as DecodedDomainEvent };
      loaded.set(id, reader);
      return reader;
    }
    let resolver: avro.Resolver;
    try {
      resolver = readerType.createResolver(writer);
    } catch (err) {
      throw new DecodeError(
        'undecodable',
        `writer schema ${id} cannot be read as a domain event: ${(err as Error).message}`,
      );
    }
    const reader = {
      read: (body: Buffer) => readerType.fromBuffer(body, resolver) as DecodedDomainEvent,
    };
    loaded.set(id, reader);
    return reader;
  }

  function readerFor(id: number): Promise<Reader> {
    let reader = readers.get(id);
    if (!reader) {
      reader = loadReader(id);
      readers.set(id, reader);
      // A transient registry failure must not stay cached; a permanent verdict may.
      reader.catch((err: unknown) => {
        if (!(err instanceof DecodeError)) readers.delete(id);
      });
    }
    return reader;
  }

  function checkHeader(value: Buffer | null): asserts value is Buffer {
    if (!value || value.length < HEADER || value.readUInt8(0) !== MAGIC) {
      throw new DecodeError('not-wire-format', 'value is not in the Confluent wire format');
    }
  }

  function read(reader: Reader, value: Buffer): DecodedDomainEvent {
    try {
      return reader.read(value.subarray(HEADER));
    } catch (err) {
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
