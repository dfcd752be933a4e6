/**
 * The one strict UTF-8 reading of bytes: malformed sequences are refused,
 * never replaced with U+FFFD, so bytes that are not text are never passed
 * off as text.
 */
import { LARGE_TEXT_BYTES, parseInPieces } from './json-pieces.js';

const strict = new TextDecoder('utf-8', { fatal: true });
/** For runs inside a text, where a byte order mark is not the text's start but a character JSON refuses. */
const strictKeepingBom = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes as text; throws a TypeError when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string {
  return strict.decode(bytes);
}

/** The bytes as text, or undefined when they are not valid UTF-8. */
export function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return strict.decode(bytes);
  } catch {
    return undefined;
  }
}

const escapePointer = (name: string) => name.replaceAll('~', '~0').replaceAll('/', '~1');

/** With the `u` flag a surrogate pair is one code point, so this matches only a surrogate standing alone. */
const LONE_SURROGATE = /\p{Cs}/u;
const wellFormed = (text: string) => !LONE_SURROGATE.test(text);

/**
 * Whether JSON text holds a `\uD800`-`\uDFFF` escape (or what looks like
 * one after an escaped backslash: the parsed value is then looked at, and
 * clears it). Found with indexOf, which scans a body of binary values
 * (base64, no backslash) many times faster than a regular expression, a
 * cost every produce request paid on its whole body.
 */
function hasSurrogateEscape(text: string): boolean {
  for (let at = text.indexOf('\\u'); at !== -1; at = text.indexOf('\\u', at + 2)) {
    if ((text.charCodeAt(at + 2) | 0x20) !== 0x64) continue;
    const next = text.charCodeAt(at + 3) | 0x20;
    if (next === 0x38 || next === 0x39 || (next >= 0x61 && next <= 0x66)) return true;
  }
  return false;
}

/**
 * The JSON Pointer of the first string (or member name) in a parsed JSON
 * value for which `bad` holds. Walked with a stack of its own, not by
 * recursion: a value nested 20,000 levels deep must not overflow the call
 * stack.
 */
function findString(root: unknown, bad: (text: string) => boolean): string | undefined {
  const stack: Array<[unknown, string]> = [[root, '']];
  while (stack.length > 0) {
    const [value, pointer] = stack.pop()!;
    if (typeof value === 'string') {
      if (bad(value)) return pointer;
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    // Pushed last to first, so that the first member is looked at first.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [name, member] = entries[i]!;
      const at = `${pointer}/${escapePointer(name)}`;
      if (!Array.isArray(value) && bad(name)) return at;
      stack.push([member, at]);
    }
  }
  return undefined;
}

/**
 * The JSON Pointer of the first string (or member name) in a parsed JSON
 * value that is not well-formed Unicode: a lone surrogate (`"\ud800"`) is
 * valid JSON but no text, and written as UTF-8 it would become U+FFFD.
 * Undefined when every string is well-formed.
 */
export function illFormedPointer(value: unknown): string | undefined {
  return findString(value, (text) => !wellFormed(text));
}

/** A noncharacter that never occurs in valid input text; it stands in for bytes that are not UTF-8 while a pointer to them is sought. */
const NOT_TEXT = '\ufdd0';

/** How long the UTF-8 sequence starting at `i` is when it is valid (RFC 3629: no overlongs, no surrogates, at most U+10FFFF); 0 when it is not. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < bytes.length && bytes[i + k]! >= lo && bytes[i + k]! <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** The bytes as text with each byte that is not part of a valid UTF-8 sequence replaced by NOT_TEXT. */
function markNotText(bytes: Uint8Array): string {
  const parts: string[] = [];
  let start = 0;
  let i = 0;
  while (i < bytes.length) {
    const length = sequenceLength(bytes, i);
    if (length > 0) {
      i += length;
      continue;
    }
    parts.push(strict.decode(bytes.subarray(start, i)), NOT_TEXT);
    i += 1;
    start = i;
  }
  parts.push(strict.decode(bytes.subarray(start)));
  return parts.join('');
}

const markedPointer = (value: unknown) => findString(value, (text) => text.includes(NOT_TEXT));

/** Array elements as an array, or undefined for anything the whole-text path would refuse (it then says why). */
function parseRunQuietly(bytes: Uint8Array): unknown[] | undefined {
  try {
    const text = strictKeepingBom.decode(bytes);
    if (hasSurrogateEscape(text)) return undefined;
    return JSON.parse(`[${text}]`) as unknown[];
  } catch {
    return undefined;
  }
}

/** Why a JSON text was refused, and where: `pointer` is a JSON Pointer into the value when the fault is inside a string. */
export class JsonTextError extends Error {
  constructor(
    message: string,
    readonly pointer: string | undefined,
    /** Whether the text did not parse as JSON at all (rather than holding something that is not text). */
    readonly syntax: boolean,
  ) {
    super(message);
  }
}

/**
 * Parses JSON text (RFC 8259: UTF-8) strictly: bytes that are not UTF-8
 * and strings that are not well-formed Unicode (lone surrogates) are
 * refused with the pointer of the string holding them, never replaced with
 * U+FFFD. Throws a JsonTextError.
 */
export function parseJsonText(bytes: Uint8Array): unknown {
  if (bytes.length >= LARGE_TEXT_BYTES) {
    const value = parseInPieces(bytes, parseRunQuietly);
    if (value !== undefined) return value;
  }
  return parseWholeJsonText(bytes);
}

/** parseJsonText reading the text as one string, as it does every text it does not read in pieces. */
export function parseWholeJsonText(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = strict.decode(bytes);
  } catch {
    // Slow path, only for refused input: find which string held the bytes.
    const marked = markNotText(bytes);
    let value: unknown;
    try {
      value = JSON.parse(marked) as unknown;
    } catch {
      throw new JsonTextError('is not valid UTF-8', undefined, false);
    }
    const pointer = markedPointer(value);
    throw new JsonTextError(`is not valid UTF-8${pointer === undefined ? '' : ` at ${pointer || '/'}`}`, pointer, false);
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    throw new JsonTextError(`is not valid JSON: ${(error as Error).message}`, undefined, true);
  }
  // Text decoded strictly holds no lone surrogate: one can only come from a `\uD800`-`\uDFFF` escape.
  const pointer = hasSurrogateEscape(text) ? illFormedPointer(value) : undefined;
  if (pointer !== undefined) throw new JsonTextError(`holds a lone surrogate (not text) at ${pointer || '/'}`, pointer, false);
  return value;
}
