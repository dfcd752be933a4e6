/**
 * A batch's binary values are decoded into one buffer (decodeBase64All);
 * each must be taken or refused, and decoded, exactly as one value alone is
 * (decodeBase64): canonical padded base64 only. Pure logic, on fixed and
 * generated strings; binary produce through a broker is in produce.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeBase64, decodeBase64All } from '../src/records/key-filter.js';

function sameAsAlone(texts: readonly unknown[]): void {
  const all = decodeBase64All(texts);
  texts.forEach((text, i) => {
    const alone = typeof text === 'string' ? decodeBase64(text) : undefined;
    assert.deepEqual(all[i], alone, `${JSON.stringify(text)} at ${i}`);
  });
}

test('each value of a batch is taken, refused and decoded as it would be alone', () => {
  sameAsAlone(['', 'AA==', 'AAA=', 'AAAA', 'QUJDRA==', 'A', 'AB', 'ABC', 'AB==AB==', 'AB-_', 'AB+/', 'A A=', '====', '=AAA', 'AA=A', 'ÿÿÿÿ', 'AAA\n', 5, null, undefined, {}, ['AA==']]);
});

test('on generated strings, mostly base64 with stray characters, the batch decoder agrees with the single one', () => {
  let seed = 42;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n.é';
  const texts = Array.from({ length: 5000 }, () => Array.from({ length: Math.floor(random() * 14) }, () => alphabet[Math.floor(random() * (random() < 0.9 ? 64 : alphabet.length))]).join(''));
  sameAsAlone(texts);
  assert.ok(decodeBase64All(texts).filter(Boolean).length > 1000, 'enough of the strings are valid base64 to compare bytes');
});
