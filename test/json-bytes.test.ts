/**
 * JSON checked on its bytes (jsonBounds), for Confluent v2 json reads that
 * write each value from its own bytes: it must accept exactly what
 * JSON.parse of the UTF-8 decoding accepts, and cut exactly the text that
 * decoding trimmed of JSON's spaces. Pure logic: checked against JSON.parse
 * on hand-picked cases and on generated and mutated bytes; the answer
 * writer against the text the reads wrote before (test/confluent-*.test.ts
 * read through the gateway).
 */
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { test } from 'node:test';
import type { ConsumedRecord } from '../src/kafka/index.js';
import { jsonBounds } from '../src/records/index.js';
import { RecordAnswer } from '../src/http/v2/record-answer.js';

/** What a json read wrote before: the UTF-8 text without a byte order mark, when JSON.parse takes it, trimmed. */
function reference(bytes: Buffer): string | undefined {
  const body = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  if (!isUtf8(body)) return undefined;
  const text = body.toString('utf8');
  try {
    JSON.parse(text);
  } catch {
    return undefined;
  }
  return text.trim();
}

function scanned(bytes: Buffer): string | undefined {
  const into = [7, 7];
  return jsonBounds(bytes, into, 0) ? bytes.subarray(into[0], into[1]).toString('utf8') : undefined;
}

function same(bytes: Buffer, label = bytes.toString('hex')): void {
  assert.equal(scanned(bytes), reference(bytes), label);
}

const valid = [
  '0', '-0', '1', '-1', '10', '1.5', '-0.25', '1e5', '1E+5', '1e-5', '-1.25E-10', '1e400', '-1e400', '123456789012345678901234567890',
  '9007199254740993', '0.1e1', 'true', 'false', 'null', '""', '"a"', '"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\u0000"', '"\\uD83D\\uDE00"', '"\\ud800"',
  '"\\udc00x"', '"\\uFFFF"', '"é"', '"😀"', '"\u2028\u2029"', '"\u007f"', '[]', '{}', '[1,2,3]', '{"a":1,"b":[true,null,{"c":"d"}]}', ' {"a" : 1 } ',
  '\n\t\r [ 1 , 2 ]\r\n', '{"a":1,"a":2}', '[[[[[]]]]]', '{"":{"":{"":""}}}',
];
const invalid = [
  '', ' ', '01', '-01', '1.', '.5', '+1', '1e', '1e+', '-', '--1', '0x10', 'NaN', 'Infinity', '1 2', '[1,]', '[,1]', '{"a":1,}', '{,}', '{"a"}', '{"a":}',
  '{a:1}', "{'a':1}", '{"a" 1}', '[1 2]', '["a":1]', '{"a":1]', '[1}', '[', ']', '{', '}', '"', '"abc', '"\\"', '"\\x"', '"\\u12"', '"\\u12G4"', '"\\U0041"',
  '"\t"', '"\n"', '"\u0000"', '"\u001f"', 'tru', 'nul', 'falsey', 'True', 'null null', '1\u00a0', '\u00a01', '\ufeff\ufeff1', '"a"x', '[]]', '{}}', '[1]x',
];

test('bytes that are JSON text: the text, trimmed of JSON spaces and a byte order mark; everything else refused, as JSON.parse refuses it', () => {
  for (const text of valid) {
    const bytes = Buffer.from(text, 'utf8');
    assert.equal(scanned(bytes), text.trim(), text);
    same(bytes, text);
    same(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]), `BOM ${text}`);
  }
  for (const text of invalid) {
    assert.equal(scanned(Buffer.from(text, 'utf8')), undefined, text);
    same(Buffer.from(text, 'utf8'), text);
  }
});

test('bytes that are not UTF-8 are refused, inside strings and out; a byte order mark counts only in front', () => {
  const bad = [
    [0x80], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80] /* an encoded surrogate */, [0xf4, 0x90, 0x80, 0x80] /* past U+10FFFF */, [0xff], [0xe2, 0x82],
  ];
  for (const bytes of bad) {
    const inside = Buffer.concat([Buffer.from('["a'), Buffer.from(bytes), Buffer.from('b"]')]);
    assert.equal(scanned(inside), undefined, inside.toString('hex'));
    same(inside);
    same(Buffer.concat([Buffer.from('['), Buffer.from(bytes), Buffer.from(']')]));
  }
  assert.equal(scanned(Buffer.from('{"é":"€😀"}')), '{"é":"€😀"}');
  assert.equal(scanned(Buffer.from([0xef, 0xbb, 0xbf])), undefined);
  assert.equal(scanned(Buffer.from('1\ufeff')), undefined);
  assert.equal(scanned(Buffer.from(' \ufeff1')), undefined);
});

test('strings read four bytes at a time: every byte that ends a plain run is found wherever it falls in a word', () => {
  const specials = ['\u0001', '\u001f', ' ', '\u007f', '\\n', '\\u00e9', '\\', '"', 'é', '😀', '\t', '\n'];
  for (const special of specials) {
    for (let before = 0; before < 22; before++) {
      for (let after = 0; after < 6; after++) {
        const text = `["${'a'.repeat(before)}${special}${'b'.repeat(after)}"]`;
        same(Buffer.from(text), text);
        // At every alignment of the bytes in their memory, too.
        for (let shift = 1; shift < 4; shift++) same(Buffer.concat([Buffer.alloc(shift), Buffer.from(text)]).subarray(shift), text);
      }
    }
  }
  same(Buffer.concat([Buffer.from('"abc'), Buffer.from([0xe2, 0x82]), Buffer.from('defgh"')]));
});

test('nesting of any depth, as JSON.parse takes it, without recursion', () => {
  for (const depth of [1, 63, 64, 65, 1000, 100_000]) {
    assert.equal(scanned(Buffer.from('['.repeat(depth) + ']'.repeat(depth))), '['.repeat(depth) + ']'.repeat(depth));
    const object = '{"a":'.repeat(depth) + '[1,{"b":2}]' + '}'.repeat(depth);
    assert.equal(scanned(Buffer.from(object)), object);
    assert.equal(scanned(Buffer.from('['.repeat(depth) + ']'.repeat(depth - 1))), undefined);
    assert.equal(scanned(Buffer.from('['.repeat(depth) + ']'.repeat(depth + 1))), undefined);
    assert.equal(scanned(Buffer.from('{"a":['.repeat(depth) + ']}'.repeat(depth - 1) + '}]')), undefined);
  }
});

test('generated and mutated bytes: accepted and cut exactly as JSON.parse of their decoding', () => {
  let seed = 26;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const atoms = ['0', '-1.5e+3', '"s\\n\\"x\\u00e9"', 'true', 'null', '"é😀"', '123456789012345678901234567890', '-0.0E-0', '""', '"\\ud83d"'];
  const generate = (depth: number): string => {
    const r = random();
    if (depth > 5 || r < 0.3) return pick(atoms);
    const n = Math.floor(random() * 4);
    if (r < 0.65) return `[${Array.from({ length: n }, () => generate(depth + 1)).join(random() < 0.5 ? ',' : ' , ')}]`;
    return `{${Array.from({ length: n }, (_, i) => `"k${i}"${random() < 0.3 ? ' ' : ''}:${generate(depth + 1)}`).join(',')}}`;
  };
  const pieces = ['{', '}', '[', ']', ',', ':', '"', '\\', 'u', '0', '1', '-', '+', '.', 'e', ' ', '\n', '\t', 'true', 'nul', '\\u00e9', '\\ud800', 'é', '\u0001', '\ufeff', '1e400'];
  const raw = [[0x80], [0xc3], [0xed, 0xa0, 0x80], [0xef, 0xbb, 0xbf], [0xff]].map((b) => Buffer.from(b));
  let accepted = 0;
  for (let round = 0; round < 15_000; round++) {
    let bytes: Buffer;
    if (round % 2 === 0) {
      bytes = Buffer.concat(Array.from({ length: Math.floor(random() * 8) }, () => (random() < 0.1 ? pick(raw) : Buffer.from(pick(pieces)))));
    } else {
      bytes = Buffer.from(`${random() < 0.2 ? ' ' : ''}${generate(0)}${random() < 0.2 ? '\r\n' : ''}`);
      const at = Math.floor(random() * bytes.length);
      const how = random();
      if (how < 0.2) bytes[at] = Math.floor(random() * 256);
      else if (how < 0.4) bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
      else if (how < 0.6) bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(pick(pieces)), bytes.subarray(at)]);
    }
    const expected = reference(bytes);
    if (expected !== undefined) accepted++;
    assert.equal(scanned(bytes), expected, bytes.toString('hex'));
  }
  // Both sides of the check are exercised.
  assert.ok(accepted > 1_500 && accepted < 13_500, `${accepted} accepted`);
});

function record(partition: number, offset: bigint, key: Buffer | null, value: Buffer | null, topic = 'orders'): ConsumedRecord {
  return { topic, partition, offset, timestamp: 0, key, keyId: key?.toString('latin1') ?? null, value, headers: [], size: 0 };
}

/** The envelope as reads wrote it before, as text. */
const before = (r: ConsumedRecord, key: string, value: string) => `{"topic":${JSON.stringify(r.topic)},"key":${key},"value":${value},"partition":${r.partition},"offset":${r.offset}}`;

test('a read\'s answer: the bytes of the text it was before, for json, binary and decoded records', () => {
  const records = [
    record(0, 0n, Buffer.from('"k"'), Buffer.from(' {"a":[1,2.50,"é\\u00e9"],"big":12345678901234567890123}\n')),
    record(11, 9_007_199_254_740_993n, null, Buffer.from('\ufeff"x"')),
    record(3, 9_223_372_036_854_775_807n, Buffer.from('12'), null, 'other.topic-é'),
    record(2147483647, 10n, null, null),
  ];
  const json = new RecordAnswer('json');
  for (const r of records) assert.equal(json.addJson(r), undefined);
  assert.equal(json.length, 4);
  const text = (b: Buffer | null) => (b === null ? 'null' : reference(b)!);
  assert.deepEqual(json.toBuffer(), Buffer.from(`[${records.map((r) => before(r, text(r.key), text(r.value))).join(',')}]`));
  // A record whose key or value is not JSON is not added, and says which.
  assert.equal(json.addJson(record(0, 5n, Buffer.from('user-42'), Buffer.from('1'))), 'key');
  assert.equal(json.addJson(record(0, 5n, null, Buffer.from('{"a":1'))), 'value');
  assert.equal(json.length, 4);
  assert.deepEqual(JSON.parse(json.toBuffer().toString('utf8')).length, 4);
  // Checked when the records arrived (a json instance's deliveries), then added: the same answer.
  const checkedRecords = [...records, record(0, 5n, Buffer.from('user-42'), Buffer.from('1')), record(0, 6n, null, Buffer.from('{"a":1'))];
  const bounds = new Int32Array(4 * checkedRecords.length);
  checkedRecords.forEach((r, i) => RecordAnswer.check(r, bounds, 4 * i));
  const checked = new RecordAnswer('json');
  assert.deepEqual(
    checkedRecords.map((r, i) => checked.addChecked(r, bounds, 4 * i)),
    [undefined, undefined, undefined, undefined, 'key', 'value'],
  );
  assert.deepEqual(checked.toBuffer(), json.toBuffer());

  const binary = new RecordAnswer('binary');
  // Every length up to past where node's encoder takes over from the gateway's own, and every byte value.
  const generated = Array.from({ length: 300 }, (_, n) => Buffer.from(Array.from({ length: n }, (_, i) => (n * 7 + i * 131) % 256)));
  const bytes = [Buffer.alloc(0), Buffer.from([0xff]), Buffer.from([1, 2]), Buffer.from([1, 2, 3]), Buffer.from('not json at all'), ...generated];
  const binaryRecords = bytes.map((b, i) => record(i, BigInt(i * 1000), i % 2 === 0 ? null : b, b));
  for (const r of binaryRecords) binary.addBinary(r);
  const base64 = (b: Buffer | null) => (b === null ? 'null' : `"${b.toString('base64')}"`);
  assert.deepEqual(binary.toBuffer(), Buffer.from(`[${binaryRecords.map((r) => before(r, base64(r.key), base64(r.value))).join(',')}]`));

  const decoded = new RecordAnswer('decoded');
  decoded.addText(records[0]!, '"k"', JSON.stringify({ name: 'é😀', n: 1 }));
  decoded.addText(records[2]!, 'null', '"\\ud800"');
  assert.deepEqual(
    decoded.toBuffer(),
    Buffer.from(`[${before(records[0]!, '"k"', JSON.stringify({ name: 'é😀', n: 1 }))},${before(records[2]!, 'null', '"\\ud800"')}]`),
  );
  assert.deepEqual(new RecordAnswer('json').toBuffer(), Buffer.from('[]'));
});
