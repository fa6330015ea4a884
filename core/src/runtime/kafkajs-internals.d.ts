// The kafkajs internals that patches/kafkajs+2.2.4.patch rewrites, typed for its tests.
declare module 'kafkajs/src/producer/partitioners/default/murmur2' {
  const murmur2: (key: string | Buffer) => number;
  export default murmur2;
}
declare module 'kafkajs/src/producer/groupMessagesPerPartition' {
  const group: (options: {
    topic: string;
    partitionMetadata: { partitionId: number }[];
    messages: unknown[];
    partitioner: (options: { message: never }) => number;
  }) => Record<string, unknown[]>;
  export default group;
}
declare module 'kafkajs/src/protocol/recordBatch/record/v0' {
  type Headers = Record<string, string | Buffer | (string | Buffer)[]>;
  const encode: {
    (record: {
      key: string | Buffer | null;
      value: string | Buffer | null;
      offsetDelta?: number;
      timestampDelta?: number;
      headers?: Headers;
    }): unknown;
    encodeRecords(
      messages: {
        key?: string | Buffer | null;
        value: string | Buffer | null;
        headers?: Headers;
        timestamp?: string;
      }[],
      firstTimestamp: number,
      now: number,
    ): Buffer;
  };
  export default encode;
}
declare module 'kafkajs/src/protocol/recordBatch/crc32C/crc32C' {
  const crc32C: (buffer: Buffer) => number;
  export default crc32C;
}
declare module 'kafkajs/src/protocol/recordBatch/record/v0/decoder' {
  const decode: (
    decoder: unknown,
    context: { firstOffset: string; firstTimestamp: number | string; magicByte: number },
    /** The batch's bases as safe-integer Numbers, from the batch decoder; Long sums without. */
    bases?: { firstOffset: number | undefined; firstTimestamp: number | undefined },
  ) => {
    offset: string;
    timestamp: string;
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, Buffer | Buffer[]>;
    batchContext: object;
  };
  export default decode;
}
declare module 'kafkajs/src/protocol/recordBatch/v0/decoder' {
  const decodeBatch: (fetchDecoder: unknown) => Promise<{
    firstOffset: string;
    firstTimestamp: string;
    records: { offset: string; timestamp: string; value: Buffer | null; batchContext: object }[];
  }>;
  export default decodeBatch;
}
declare module 'kafkajs/src/protocol/recordBatch/v0' {
  export const RecordBatch: (options: {
    compression?: number;
    firstOffset?: unknown;
    firstTimestamp?: number | string;
    maxTimestamp?: number | string;
    lastOffsetDelta?: number;
    records: unknown[];
  }) => Promise<{ buffer: Buffer }>;
}
declare module 'kafkajs/src/protocol/decoder' {
  export default class Decoder {
    constructor(buffer: Buffer);
    offset: number;
    readVarInt(): number;
    readVarLong(): { toString(): string };
    readVarLongNumber(): number | undefined;
  }
}
declare module 'kafkajs/src/protocol/encoder' {
  export default class Encoder {
    constructor(size?: number);
    buffer: Buffer;
    writeVarLong(value: number | string | bigint): Encoder;
  }
}
declare module 'kafkajs/src/consumer/batch' {
  export default class Batch {
    constructor(
      topic: string,
      fetchedOffset: string,
      partitionData: {
        partition: number;
        highWatermark: string;
        abortedTransactions: unknown[];
        messages: { offset: string; isControlRecord?: boolean }[];
      },
    );
    messages: { offset: string }[];
  }
}
declare module 'kafkajs/src/protocol/error' {
  export function createErrorFromCode(code: number): Error & { type: string; retriable: boolean };
}
