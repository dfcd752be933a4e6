/**
 * JSON values produced from the body's own bytes: only where those bytes are
 * what serializing the parsed value writes, so what Kafka stores is the same
 * as before, whatever the client's formatting. The scanner is pure logic
 * (checked against JSON.stringify on generated bodies); one request through
 * the gateway checks what the broker holds.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import request from 'supertest';
import { rawRecordValues } from '../src/records/index.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { appFor } from './helpers/scoped.js';
import { consumeAll, createTopic, deleteTopics } from './helpers/kafka.js';

const brokers = sharedBrokers();
const topics: string[] = [];
after(async () => {
  await deleteTopics(brokers, topics);
});

const values = (text: string) => rawRecordValues(Buffer.from(text))?.map((b) => b?.toString('utf8'));

test('values written as JSON.stringify writes them are cut from the body; any other writing is left to serialization', () => {
  assert.deepEqual(values('{"records":[{"key":"k","value":{"a":[1,2.5,"x\\n\\u001f"],"b":null}},{"value":"two"},{}]}'), ['{"a":[1,2.5,"x\\n\\u001f"],"b":null}', '"two"', undefined]);
  const odd = [
    '{ "a": 1 }', // spaces
    '{"a":1.0}', // a number JSON.stringify writes as 1
    '12345678901234567890', // past a double's precision
    '-0',
    '1E2',
    '"\\/"', // an escape JSON.stringify does not write
    '"\\u0041"',
    '"\\u001F"', // upper-case hex
    '{"a":1,"a":2}', // a repeated key
    '{"b":1,"1":2}', // V8 puts integer-like keys first
  ];
  for (const value of odd) assert.deepEqual(values(`{"records":[{"value":${value}}]}`), [undefined], value);
  // The last of repeated `value` keys is the one JSON.parse keeps.
  assert.deepEqual(values('{"records":[{"value":1,"value":{"x":2}}]}'), ['{"x":2}']);
  // A key with an escape might spell `value` or `records`: not guessed.
  assert.deepEqual(values('{"records":[{"value":1,"v\\u0061lue":2}]}'), [undefined]);
  assert.equal(values('{"rec\\u006frds":[{"value":1}]}'), undefined);
  // Not UTF-8 (the parser replaced the bytes), or nested past MAX_JSON_DEPTH: the whole body is left to serialization.
  assert.equal(rawRecordValues(Buffer.concat([Buffer.from('{"records":[{"value":"'), Buffer.from([0xff]), Buffer.from('"}]}')])), undefined);
  assert.equal(values(`{"records":[{"value":${'['.repeat(5000)}${']'.repeat(5000)}}]}`), undefined);
  assert.equal(values(`{"records":[{"value":${'['.repeat(1000)}${']'.repeat(1000)}}]}`)?.[0]?.length, 2000);
});

test('on generated bodies, every value cut from the body is byte for byte JSON.stringify of the parsed value', () => {
  let seed = 26;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const words = ['', 'a', 'é', '😀', '\n', '\u0001', '"', '\\', '/', '\u2028', 'value', 'records', '1', '__proto__'];
  const generate = (depth: number): unknown => {
    switch (rnd(depth > 3 ? 5 : 8)) {
      case 0:
        return null;
      case 1:
        return rnd(2) === 0;
      case 2:
        return [0, 1, -1, 1.5, 1e21, 1e-7, 2 ** 60, 0.1][rnd(8)];
      case 3:
      case 4:
        return words[rnd(words.length)]! + words[rnd(words.length)]!;
      case 5:
      case 6:
        return Object.fromEntries(Array.from({ length: rnd(4) }, () => [words[rnd(words.length)]!, generate(depth + 1)]));
      default:
        return Array.from({ length: rnd(4) }, () => generate(depth + 1));
    }
  };
  // JSON as a client might write it: sometimes with spaces, other number forms, other escapes, repeated keys.
  const write = (v: unknown, odd: boolean): string => {
    const space = () => (odd && rnd(8) === 0 ? ' ' : '');
    if (typeof v === 'number' && odd && rnd(3) === 0) return Number.isInteger(v) && Math.abs(v) < 1e15 ? [`${v}.0`, `${v}e0`, '-0', '1E2'][rnd(4)]! : '0.10';
    if (typeof v === 'string' && odd && rnd(3) === 0) return JSON.stringify(v).replace(/a/g, '\\u0061').replace(/\//g, '\\/');
    if (Array.isArray(v)) return `[${space()}${v.map((x) => write(x, odd)).join(`${space()},${space()}`)}${space()}]`;
    if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}${space()}:${space()}${write(x, odd)}`);
      if (odd && rnd(6) === 0 && entries.length > 0) entries.push(`${JSON.stringify(Object.keys(v)[0])}:1`);
      return `{${space()}${entries.join(',')}${space()}}`;
    }
    return JSON.stringify(v);
  };
  let cut = 0;
  for (let i = 0; i < 5000; i++) {
    const odd = rnd(2) === 0;
    const records = Array.from({ length: rnd(4) + 1 }, () => {
      const fields = [];
      if (rnd(2)) fields.push(`"key":${write(generate(0), odd)}`);
      if (rnd(6)) fields.push(`"value":${write(generate(0), odd)}`);
      if (odd && rnd(10) === 0) fields.push(`"value":${write(generate(0), odd)}`);
      return `{${fields.join(odd && rnd(3) === 0 ? ' , ' : ',')}}`;
    });
    const text = `${odd && rnd(3) === 0 ? ' ' : ''}{"records":[${records.join(',')}]${rnd(4) === 0 ? ',"valueFormat":"json"' : ''}}`;
    const parsed = JSON.parse(text) as { records: Array<{ value?: unknown }> };
    const found = rawRecordValues(Buffer.from(text));
    assert.ok(found, text);
    assert.equal(found.length, parsed.records.length, text);
    found.forEach((bytes, j) => {
      if (bytes === undefined) return;
      cut += 1;
      assert.equal(bytes.toString('utf8'), JSON.stringify(parsed.records[j]!.value), text);
    });
  }
  assert.ok(cut > 3000, `only ${cut} values were cut from their bodies`);
});

test('Kafka stores each value as serializing its parsed JSON writes, however the body wrote it', async (t) => {
  const gw = await appFor(t, { PRODUCE_LINGER_MS: '5' });
  const topic = uniqueName('raw-values');
  topics.push(topic);
  await createTopic(brokers, topic, 1);
  const written = ['{"n":1,"s":"é😀\\n"}', '{ "n" : 1 }', '{"n":1.50}', '12345678901234567890', '"\\u0041\\/"', '{"a":1,"a":2}', '[]', '"plain"'];
  const body = `{"records":[${written.map((v) => `{"value":${v}}`).join(',')}]}`;
  const res = await request(gw.app).post(`/v1/topics/${topic}/records`).set('content-type', 'application/json').send(body);
  assert.equal(res.status, 200, res.text);
  const stored = (await consumeAll(brokers, topic)).map((r) => r.value?.toString('utf8'));
  assert.deepEqual(
    stored,
    written.map((v) => JSON.stringify(JSON.parse(v))),
  );
});
