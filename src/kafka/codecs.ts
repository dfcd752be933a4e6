/**
 * Snappy, LZ4 and Zstandard for kafkajs, which has only gzip built in.
 * Topics written by Java, Go or librdkafka producers with these codecs must
 * reach subscribers, so decompression is what matters here. All three are
 * pure JavaScript, so the gateway installs without a native build.
 * The gateway itself produces with gzip or none (PRODUCE_COMPRESSION).
 */
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import { decompress as zstdDecompress } from 'fzstd';

const require = createRequire(import.meta.url);
// CommonJS packages without type declarations: their shapes are declared here.
const createSnappyCodec = require('kafkajs-snappy') as () => Codec;
const lz4 = require('lz4js') as { compress(data: Uint8Array): Uint8Array; decompress(data: Uint8Array): Uint8Array };

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const { CompressionCodecs, CompressionTypes } = kafkajs;

const lz4Codec = (): Codec => ({
  // Kafka's LZ4 is the LZ4 frame format, which lz4js reads and writes.
  async compress(encoder) {
    return Buffer.from(lz4.compress(encoder.buffer));
  },
  async decompress(buffer) {
    return Buffer.from(lz4.decompress(buffer));
  },
});

const zstdCodec = (): Codec => ({
  async compress() {
    throw new Error('the gateway does not produce with zstd; choose PRODUCE_COMPRESSION=gzip or none');
  },
  async decompress(buffer) {
    return Buffer.from(zstdDecompress(buffer));
  },
});

let registered = false;

/** Registers the codecs with kafkajs once per process. */
export function registerCompressionCodecs(): void {
  if (registered) return;
  registered = true;
  const codecs = CompressionCodecs as Record<number, () => Codec>;
  codecs[CompressionTypes.Snappy] = createSnappyCodec;
  codecs[CompressionTypes.LZ4] = lz4Codec;
  codecs[CompressionTypes.ZSTD] = zstdCodec;
}
