/**
 * Whether bytes are a JSON text, checked on the bytes themselves: what
 * JSON.parse of their UTF-8 decoding accepts (RFC 8259, any depth, a
 * leading byte order mark dropped as a UTF-8 decoder drops it), without
 * decoding them or building the value. A consumed JSON value is then
 * written into an answer as its own bytes: no string per record, no parse,
 * no second encoding.
 */
import { isUtf8 } from 'node:buffer';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** Bytes JSON allows unescaped in a string: none below 0x20, not the quote or backslash; 0x80 and up are checked as UTF-8 apart. */
const PLAIN = new Uint8Array(256);
for (let b = 0x20; b < 0x80; b++) if (b !== QUOTE && b !== BACKSLASH) PLAIN[b] = 1;
/** What may follow a backslash: `" \ / b f n r t u`. */
const ESCAPE = new Uint8Array(256);
for (const c of '"\\/bfnrtu') ESCAPE[c.charCodeAt(0)] = 1;
const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
const isDigit = (b: number) => b >= ZERO && b <= NINE;

/** The open arrays and objects, innermost last; shared by every call (no call is re-entered), grown when a text nests deeper. */
let stack = new Uint8Array(64);
const IN_ARRAY = 1;
const IN_OBJECT = 2;

/**
 * A view of the memory under `bytes`, to read four bytes at once; the
 * last one made is kept (holding that memory until a check of other
 * memory), as consecutive records' bytes mostly share one (Buffer's pool
 * of small allocations): most checks allocate nothing.
 */
let words: DataView | undefined;
function wordsOf(bytes: Uint8Array): DataView {
  if (words?.buffer !== bytes.buffer) words = new DataView(bytes.buffer);
  return words;
}

/** Where a string that opens at `at` (its quote) ends (past its closing quote), or -1. `high[0]` is set when it holds a byte of 0x80 or more. */
function stringEnd(bytes: Uint8Array, at: number, end: number, high: Uint8Array): number {
  let i = at + 1;
  while (i < end) {
    // Most of a string is plain bytes, the scanner's hot path: four at a time while none is a quote, a backslash, below 0x20 or 0x80 and up
    // (each test true for a word exactly when it is for one of its bytes; a borrow only spreads up from a byte that is).
    const view = i + 16 <= end ? wordsOf(bytes) : undefined;
    const base = bytes.byteOffset;
    while (view !== undefined && i + 4 <= end) {
      const word = view.getUint32(base + i, true);
      const quote = word ^ 0x22222222;
      const backslash = word ^ 0x5c5c5c5c;
      if (((word - 0x20202020) | ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash) | word) & 0x80808080) break;
      i += 4;
    }
    while (i < end && PLAIN[bytes[i]!] === 1) i++;
    if (i >= end) return -1;
    const b = bytes[i]!;
    if (b === QUOTE) {
      return i + 1;
    } else if (b === BACKSLASH) {
      if (i + 1 >= end) return -1;
      const e = bytes[i + 1]!;
      if (ESCAPE[e] !== 1) return -1;
      if (e === 0x75) {
        if (i + 6 > end || HEX[bytes[i + 2]!] !== 1 || HEX[bytes[i + 3]!] !== 1 || HEX[bytes[i + 4]!] !== 1 || HEX[bytes[i + 5]!] !== 1) return -1;
        i += 6;
      } else {
        i += 2;
      }
    } else if (b >= 0x80) {
      high[0] = 1;
      i++;
    } else {
      return -1; // a control character, which JSON allows only escaped
    }
  }
  return -1;
}

/** Where a number that starts at `at` ends, or -1: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`. */
function numberEnd(bytes: Uint8Array, at: number, end: number): number {
  let i = at;
  if (bytes[i] === MINUS) i++;
  if (i >= end) return -1;
  if (bytes[i] === ZERO) {
    i++;
  } else if (isDigit(bytes[i]!)) {
    while (i < end && isDigit(bytes[i]!)) i++;
  } else {
    return -1;
  }
  if (i < end && bytes[i] === DOT) {
    i++;
    if (i >= end || !isDigit(bytes[i]!)) return -1;
    while (i < end && isDigit(bytes[i]!)) i++;
  }
  if (i < end && (bytes[i] === 0x65 || bytes[i] === 0x45)) {
    i++;
    if (i < end && (bytes[i] === 0x2b || bytes[i] === MINUS)) i++;
    if (i >= end || !isDigit(bytes[i]!)) return -1;
    while (i < end && isDigit(bytes[i]!)) i++;
  }
  return i;
}

/** Where the literal (`true`, `false`, `null`) at `at` ends, or -1. */
function literalEnd(bytes: Uint8Array, at: number, end: number): number {
  const b = bytes[at];
  if (b === 0x74) return at + 4 <= end && bytes[at + 1] === 0x72 && bytes[at + 2] === 0x75 && bytes[at + 3] === 0x65 ? at + 4 : -1;
  if (b === 0x66) return at + 5 <= end && bytes[at + 1] === 0x61 && bytes[at + 2] === 0x6c && bytes[at + 3] === 0x73 && bytes[at + 4] === 0x65 ? at + 5 : -1;
  if (b === 0x6e) return at + 4 <= end && bytes[at + 1] === 0x75 && bytes[at + 2] === 0x6c && bytes[at + 3] === 0x6c ? at + 4 : -1;
  return -1;
}

/** Past a member's name, its colon and the spaces around it, from the name's quote at `at`: where its value starts, or -1. */
function memberValueStart(bytes: Uint8Array, at: number, end: number, high: Uint8Array): number {
  if (at >= end || bytes[at] !== QUOTE) return -1;
  let i = stringEnd(bytes, at, end, high);
  if (i < 0) return -1;
  while (i < end && isSpace(bytes[i]!)) i++;
  if (i >= end || bytes[i] !== COLON) return -1;
  i++;
  while (i < end && isSpace(bytes[i]!)) i++;
  return i;
}

const high = new Uint8Array(1);

/**
 * Where the JSON text in `bytes` is, without the byte order mark and
 * JSON's spaces around it: `into[at]` its first byte and `into[at + 1]`
 * the byte after its last. False (and `into` untouched) when the bytes are
 * not UTF-8, or not JSON text: for UTF-8, exactly when JSON.parse of their
 * decoding would throw (invalid UTF-8 would decode to U+FFFD, which
 * JSON.parse takes inside a string; such a value is not JSON here).
 */
export function jsonBounds(bytes: Uint8Array, into: Int32Array | number[], at: number): boolean {
  const end = bytes.length;
  let i = end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < end && isSpace(bytes[i]!)) i++;
  const start = i;
  let depth = 0;
  high[0] = 0;
  // Each turn reads one value, then what closes or separates it, until the outermost value is read.
  for (;;) {
    if (i >= end) return false;
    let b = bytes[i]!;
    if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
      if (depth === stack.length) {
        const grown = new Uint8Array(stack.length * 2);
        grown.set(stack);
        stack = grown;
      }
      i++;
      while (i < end && isSpace(bytes[i]!)) i++;
      if (b === OPEN_OBJECT) {
        stack[depth++] = IN_OBJECT;
        if (i < end && bytes[i] === CLOSE_OBJECT) {
          depth--;
          i++;
        } else {
          // The first member's name and colon; its value is the next turn's.
          i = memberValueStart(bytes, i, end, high);
          if (i < 0) return false;
          continue;
        }
      } else {
        stack[depth++] = IN_ARRAY;
        if (i < end && bytes[i] === CLOSE_ARRAY) {
          depth--;
          i++;
        } else {
          continue;
        }
      }
    } else if (b === QUOTE) {
      i = stringEnd(bytes, i, end, high);
    } else if (b === MINUS || isDigit(b)) {
      i = numberEnd(bytes, i, end);
    } else {
      i = literalEnd(bytes, i, end);
    }
    if (i < 0) return false;
    // After a value: close what it ends, or go on to the next element or member.
    for (;;) {
      const valueEnd = i;
      while (i < end && isSpace(bytes[i]!)) i++;
      if (depth === 0) {
        if (i !== end) return false; // something after the text
        if (high[0] === 1 && !isUtf8(bytes)) return false;
        into[at] = start;
        into[at + 1] = valueEnd;
        return true;
      }
      if (i >= end) return false;
      b = bytes[i]!;
      const open = stack[depth - 1];
      if (b === COMMA) {
        i++;
        while (i < end && isSpace(bytes[i]!)) i++;
        if (open === IN_OBJECT) {
          i = memberValueStart(bytes, i, end, high);
          if (i < 0) return false;
        }
        break;
      }
      if ((b === CLOSE_OBJECT && open === IN_OBJECT) || (b === CLOSE_ARRAY && open === IN_ARRAY)) {
        depth--;
        i++;
        continue;
      }
      return false;
    }
  }
}
