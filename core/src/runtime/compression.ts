import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import snappyCodec from 'kafkajs-snappy';
import { compressFrame, decompressFrame } from 'lz4-napi';
import { decompress as zstdDecompress } from 'fzstd';
import { ConfigError } from './config';

/** What kafkajs asks of a codec: compress an encoder's bytes, decompress a batch's records. */
interface KafkaCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const lz4: KafkaCodec = {
  // Kafka's record batches (magic 2) carry LZ4 in the frame format (KIP-57).
  compress: (encoder) => compressFrame(encoder.buffer),
  decompress: (buffer) => decompressFrame(buffer),
};

const zstd: KafkaCodec = {
  compress: () =>
    Promise.reject(
      new ConfigError('zstd compression is not offered for producing; use gzip, snappy or lz4'),
    ),
  decompress: (buffer) => {
    const out = zstdDecompress(buffer);
    return Promise.resolve(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
  },
};

let registered = false;

/**
 * Gives kafkajs every compression codec Kafka defines (KIP-110 added zstd): kafkajs ships
 * only gzip, and a fetched batch in another codec would crash the consumer. snappy (both
 * xerial-framed, as the Java client writes, and raw, as librdkafka writes) through
 * kafkajs-snappy (snappyjs, pure JavaScript), lz4 frames through lz4-napi (prebuilt
 * binaries from the npm registry), zstd through fzstd (pure JavaScript, decompression:
 * consumers must read what any producer writes; our producers do not write zstd).
 * Idempotent; called by createKafka so that every client of the project has them.
 */
export function registerCompressionCodecs(): void {
  if (registered) return;
  registered = true;
  CompressionCodecs[CompressionTypes.Snappy] = snappyCodec;
  CompressionCodecs[CompressionTypes.LZ4] = () => lz4;
  CompressionCodecs[CompressionTypes.ZSTD] = () => zstd;
}
