/**
 * Large JSON bodies read in pieces (src/common/json-pieces.ts) give what
 * reading the whole text gives: the same value, or the same refusal with
 * the same message. Bodies are generated to put commas, brackets, quotes
 * and backslashes in strings, cuts next to empty or broken elements, byte
 * order marks, bytes that are not UTF-8 and lone surrogates in later runs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LARGE_TEXT_BYTES, parseInPieces } from '../src/common/json-pieces.js';
import { parseJsonText, parseWholeJsonText } from '../src/common/utf8.js';

type Outcome = { value: unknown } | { error: string };

function outcome(parse: (bytes: Uint8Array) => unknown, bytes: Uint8Array): Outcome {
  try {
    return { value: parse(bytes) };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/** A deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
}

const tricky = ['},{"key":', '"],[', '\\"', '\\\\', ',', ']', '}', '{', '[', 'é', '😀', '\\u00e9', '\\ud83d\\ude00', ' '];

function element(next: () => number, i: number): unknown {
  const text = Array.from({ length: 1 + Math.floor(next() * 6) }, () => tricky[Math.floor(next() * tricky.length)]).join('');
  switch (i % 4) {
    case 0:
      return { key: `k${i}`, value: Buffer.alloc(200 + Math.floor(next() * 1500), i).toString('base64') };
    case 1:
      return { key: null, value: { nested: [{ a: text }, [text, i, null, true]], n: -i / 3 }, headers: [{ key: 'h', value: text }] };
    case 2:
      return text;
    default:
      return [i, { deep: { deeper: [text] } }];
  }
}

/** JSON with a space after each comma and colon, and around brackets. */
function spacedJson(value: unknown): string {
  if (Array.isArray(value)) return `[ ${value.map(spacedJson).join(', ')} ]`;
  if (value !== null && typeof value === 'object') return `{ ${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${spacedJson(v)}`).join(', ')} }`;
  return JSON.stringify(value);
}

/** `{"records": [...]}` over the large-text limit, in compact or spaced form. */
function body(seed: number, spaced: boolean): string {
  const next = random(seed);
  const elements: unknown[] = [];
  let size = 0;
  for (let i = 0; size < LARGE_TEXT_BYTES * 1.6; i++) {
    const e = element(next, i);
    elements.push(e);
    size += JSON.stringify(e).length;
  }
  return spaced ? `\n${spacedJson({ records: elements })}\r\n` : JSON.stringify({ records: elements });
}

/** Ways to break a valid body somewhere past its first run. */
const breakages: Array<[string, (text: string, at: number) => string | Uint8Array]> = [
  ['trailing comma', (text) => text.replace(/\]\s*\}\s*$/, ',]}')],
  ['empty element', (text, at) => `${text.slice(0, text.indexOf(',', at))},${text.slice(text.indexOf(',', at))}`],
  ['missing comma', (text, at) => `${text.slice(0, text.indexOf('},', at) + 1)}${text.slice(text.indexOf('},', at) + 2)}`],
  ['byte order mark after a comma', (text, at) => `${text.slice(0, text.indexOf(',', at) + 1)}\ufeff${text.slice(text.indexOf(',', at) + 1)}`],
  ['lone surrogate', (text, at) => `${text.slice(0, text.indexOf('"k', at) + 1)}\\ud800${text.slice(text.indexOf('"k', at) + 1)}`],
  ['not UTF-8', (text, at) => Buffer.concat([Buffer.from(text.slice(0, text.indexOf('"k', at) + 1)), Buffer.from([0xc3, 0x28]), Buffer.from(text.slice(text.indexOf('"k', at) + 1))])],
  ['unbalanced bracket', (text, at) => `${text.slice(0, text.indexOf('[', at) + 1)}${text.slice(text.indexOf('[', at) + 2)}`],
  ['unterminated string', (text) => `${text.slice(0, text.length - 3)}"]}`],
  ['second member', (text) => text.replace(/\}\s*$/, ',"more":1}')],
  ['proto key', (text) => text.replace('"records"', '"__proto__"')],
  ['escaped key', (text) => text.replace('"records"', '"rec\\u006frds"')],
  ['leading byte order mark', (text) => `\ufeff${text}`],
  ['spaces before a cut', (text, at) => `${text.slice(0, text.indexOf(',', at))}${' '.repeat(60_000)}${text.slice(text.indexOf(',', at))}`],
];

test('large bodies parsed in pieces equal the whole text parsed, and are refused with the same message', () => {
  let inPieces = 0;
  for (let seed = 1; seed <= 12; seed++) {
    for (const spaced of [false, true]) {
      const text = body(seed, spaced);
      const bytes = Buffer.from(text);
      if (parseInPieces(bytes, (run) => JSON.parse(`[${Buffer.from(run).toString()}]`) as unknown[]) !== undefined) inPieces += 1;
      assert.deepEqual(outcome(parseJsonText, bytes), outcome(parseWholeJsonText, bytes), `seed ${seed}${spaced ? ' spaced' : ''}`);
      for (const [name, breakIt] of breakages) {
        const broken = breakIt(text, 60_000 + seed * 1000);
        const brokenBytes = typeof broken === 'string' ? Buffer.from(broken) : broken;
        const got = outcome(parseJsonText, brokenBytes);
        assert.deepEqual(got, outcome(parseWholeJsonText, brokenBytes), `seed ${seed}${spaced ? ' spaced' : ''}, ${name}`);
      }
    }
  }
  assert.equal(inPieces, 24, 'every valid body was read in pieces');
});

test('the pieces are what parsing reads: a batch of base64 values is cut into runs under the limit', () => {
  const text = JSON.stringify({ records: Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: Buffer.alloc(1000, i).toString('base64') })) });
  const runs: number[] = [];
  const value = parseInPieces(Buffer.from(text), (run) => {
    runs.push(run.length);
    return JSON.parse(`[${Buffer.from(run).toString()}]`) as unknown[];
  });
  assert.deepEqual(value, JSON.parse(text));
  assert.ok(runs.length >= 3, `${runs.length} runs`);
  for (const length of runs) assert.ok(length < LARGE_TEXT_BYTES, `a run of ${length} bytes`);
});

test('bodies of another shape, or under the limit, are not read in pieces', () => {
  const records = Array.from({ length: 100 }, (_, i) => ({ value: Buffer.alloc(1000, i).toString('base64') }));
  const runParser = () => assert.fail('no run is parsed');
  for (const shape of [records, { records, more: 1 }, { a: 1, records }, { records: { inner: records } }]) {
    assert.equal(parseInPieces(Buffer.from(JSON.stringify(shape)), runParser), undefined);
  }
  // Structure all the way down: cutting it costs more than the large string it avoids.
  const dense = JSON.stringify({ records: Array.from({ length: 20_000 }, (_, i) => [i, [i], { a: [i] }]) });
  assert.ok(dense.length > LARGE_TEXT_BYTES);
  assert.equal(parseInPieces(Buffer.from(dense), runParser), undefined);
  assert.deepEqual(parseJsonText(Buffer.from(dense)), JSON.parse(dense));
});

test('what stands right after a cut is read as the whole text reads it: an empty element, a byte order mark', () => {
  // A run ends at the first comma between elements past 48 KiB, so the long string's comma is a cut.
  const long = JSON.stringify('x'.repeat(400_000));
  const cases = {
    'an element of spaces only': `{"records":[${long},${' '.repeat(49_200)},"y"]}`,
    'a byte order mark': `{"records":[${long},\ufeff"y","z"]}`,
    'a trailing comma': `{"records":[${long},"y",]}`,
    'nothing after the cut': `{"records":[${long},]}`,
  };
  for (const [name, text] of Object.entries(cases)) {
    const bytes = Buffer.from(text);
    assert.ok(bytes.length >= LARGE_TEXT_BYTES);
    const whole = outcome(parseWholeJsonText, bytes);
    assert.ok('error' in whole, `${name} is refused`);
    assert.deepEqual(outcome(parseJsonText, bytes), whole, name);
  }
  const valid = Buffer.from(`{"records":[${long}, "y" ,"z"]}`);
  assert.deepEqual(parseInPieces(valid, (run) => JSON.parse(`[${Buffer.from(run).toString()}]`) as unknown[]), { records: ['x'.repeat(400_000), 'y', 'z'] });
});
