import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { registerCompressionCodecs } from './compression';

const text = 'catch-all: every codec Kafka defines';
/** `printf '%s' "$text" | lz4 -c | base64`: a frame with a content checksum. */
const LZ4_CLI_FRAME =
  'BCJNGGRApyQAAIBjYXRjaC1hbGw6IGV2ZXJ5IGNvZGVjIEthZmthIGRlZmluZXMAAAAAogXpgw==';
type Codec = {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
};
const codec = (type: Exclude<CompressionTypes, CompressionTypes.None>) =>
  (CompressionCodecs[type] as () => Codec)();

describe('the compression codecs kafkajs is given', () => {
  beforeAll(() => registerCompressionCodecs());

  it.each([
    ['snappy', CompressionTypes.Snappy as const],
    ['lz4', CompressionTypes.LZ4 as const],
    ['gzip', CompressionTypes.GZIP as const],
  ])('%s: what it compresses decompresses to the same bytes', async (_name, type) => {
    const input = Buffer.from(text.repeat(50));
    const compressed = await codec(type).compress({ buffer: input });
    expect(compressed.length).toBeLessThan(input.length);
    expect(await codec(type).decompress(compressed)).toEqual(input);
  });

  it('zstd: decompresses a frame written by the zstd command-line tool', async () => {
    const frame = Buffer.from(
      'KLUv/QRYIQEAY2F0Y2gtYWxsOiBldmVyeSBjb2RlYyBLYWZrYSBkZWZpbmVzdm55Vw==',
      'base64',
    );
    expect((await codec(CompressionTypes.ZSTD).decompress(frame)).toString()).toBe(text);
  });

  it('lz4: decompresses a frame written by the lz4 command-line tool (checksums on)', async () => {
    const frame = Buffer.from(LZ4_CLI_FRAME, 'base64');
    expect((await codec(CompressionTypes.LZ4).decompress(frame)).toString()).toBe(text);
  });

  it('snappy: decompresses the xerial framing the Java client writes', async () => {
    const raw = await codec(CompressionTypes.Snappy).compress({ buffer: Buffer.from(text) });
    // xerial-snappy: magic, version 1, compatible version 1, then [length][block] pairs.
    const header = Buffer.from([
      0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1,
    ]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(raw.length);
    const framed = Buffer.concat([header, length, raw, length, raw]);
    expect((await codec(CompressionTypes.Snappy).decompress(framed)).toString()).toBe(text + text);
  });

  it('zstd: refuses to compress, with a message saying which codecs produce', async () => {
    await expect(
      codec(CompressionTypes.ZSTD).compress({ buffer: Buffer.from(text) }),
    ).rejects.toThrow(/gzip, snappy or lz4/);
  });
});
