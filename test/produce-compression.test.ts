/**
 * Batches the gateway compresses (PRODUCE_COMPRESSION) are read back by
 * another client, librdkafka's kcat: each codec the gateway offers on this
 * Node.js writes batches other consumers decode.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import zlib from 'node:zlib';
import { test } from 'node:test';
import request from 'supertest';
import { conforms } from './helpers/contract.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { testGateway } from './helpers/gateway.js';
import { createTopic } from './helpers/kafka.js';

const zstd = typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';

for (const codec of ['gzip', 'snappy', 'lz4', ...(zstd ? ['zstd'] : [])]) {
  test(`${codec}: batches the gateway compresses are read back by kcat`, async () => {
    const gw = await testGateway({ PRODUCE_COMPRESSION: codec });
    try {
      const topic = uniqueName(`compressed-${codec}`);
      await createTopic(sharedBrokers(), topic, 1);
      const records = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: { i, text: 'a fairly compressible value '.repeat(4) } }));
      conforms(await request(gw.app).post(`/v1/topics/${topic}/records`).send({ records }).expect(200));
      const read = execFileSync('kcat', ['-C', '-b', sharedBrokers(), '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k\t%s\n'], { encoding: 'utf8' });
      const lines = read.trim().split('\n');
      assert.equal(lines.length, 50);
      assert.deepEqual(lines[7]!.split('\t'), ['k7', JSON.stringify(records[7]!.value)]);
    } finally {
      await gw.close();
    }
  });
}
