/**
 * Reading a key or value as JSON when it parses (pure logic): the quick
 * refusal of text that cannot be JSON agrees with JSON.parse on what is
 * JSON and what is not, whitespace, lone literals and numbers included.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formats } from '../src/records/formats.js';
import { encodeBytes } from '../src/records/to-json.js';

const parsed = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
};

test('bytes are JSON exactly when JSON.parse takes them', () => {
  const texts = ['', ' ', '\n\t', 'key-1', 'user 42', '1', ' 1 ', '-1', '-', '1.5e3', '1e', '0', '01', 'true', ' false\r\n', 'null', 'nul', 'nulls', 'tru', 'e', 'l'];
  texts.push('"a"', '"', 'a"', '"a', '{"a":1}', ' {"a":[1,2]}\n', '{', '}', '[1]', '[', '\t[]\t', '1a', '12-ab', '{"a":1} x', 'x {"a":1}', '\u00a0{}', '{}\u00a0');
  for (const text of texts) {
    assert.deepEqual(formats.json.fromText(text), parsed(text), JSON.stringify(text));
    const bytes = Buffer.from(text);
    const encoded = encodeBytes(bytes, 'text');
    if (parsed(text) === undefined || text.length === 0) assert.deepEqual(encoded, { data: text, encoding: 'text' }, JSON.stringify(text));
    else assert.deepEqual(encoded, { data: parsed(text), encoding: 'json' }, JSON.stringify(text));
  }
});
