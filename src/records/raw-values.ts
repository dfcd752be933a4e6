/**
 * The bytes of each record's value in a JSON produce body, cut from the
 * body as the client sent it, for the records whose bytes are exactly what
 * JSON.stringify of the parsed value writes. Those go to Kafka as they are,
 * without serializing the value again (a copy and a UTF-8 encoding per
 * record); every other value (spaces between tokens, a number or an escape
 * written another way than JSON.stringify writes it, a repeated or numeric
 * object key, nesting past MAX_JSON_DEPTH) is serialized from its parsed
 * form as before. So what is stored never differs from before; only the
 * work does.
 *
 * The body has been parsed by JSON.parse already (it is valid JSON); this
 * only finds where each value is, and gives up (undefined) on anything it
 * does not expect.
 */
import { isUtf8 } from 'node:buffer';
import { MAX_JSON_DEPTH } from './formats.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** A value's place in the body, and whether its bytes are JSON.stringify's. */
interface Scan {
  /** The next byte to read. */
  at: number;
  /** False once the current value has anything JSON.stringify would write differently. */
  canonical: boolean;
  /** The first backslash at or after the last one passed (the body's length when there is none). */
  backslash: number;
  /** The text of the last string read (without quotes), and whether it had escapes. */
  start: number;
  end: number;
  escaped: boolean;
}

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function skipSpace(body: Buffer, scan: Scan): void {
  while (isSpace(body[scan.at])) scan.at++;
}

/** Spaces inside a value: skipped, and the value is not written as JSON.stringify writes it. */
function spaceInside(body: Buffer, scan: Scan): void {
  if (!isSpace(body[scan.at])) return;
  scan.canonical = false;
  skipSpace(body, scan);
}

/** Where the next quote at or after `at` is: short strings (keys) byte by byte, long ones by the native search. */
function nextQuote(body: Buffer, at: number): number {
  const short = Math.min(body.length, at + 24);
  for (let i = at; i < short; i++) if (body[i] === QUOTE) return i;
  return body.indexOf(QUOTE, short);
}

/**
 * Reads a string from its opening quote; answers where its text starts and
 * ends (without quotes). An escape JSON.stringify would not write (`\/`, a
 * `\u` form of a character it writes as is) makes the value not canonical.
 */
function string(body: Buffer, scan: Scan): void {
  const start = scan.at + 1;
  let at = start;
  let escaped = false;
  for (;;) {
    const quote = nextQuote(body, at);
    if (quote === -1) throw new Error('unterminated string');
    // The next backslash is searched for once past the last one, not per string: a body without any is searched once.
    if (scan.backslash < at) {
      const found = body.indexOf(BACKSLASH, at);
      scan.backslash = found === -1 ? body.length : found;
    }
    const backslash = scan.backslash;
    if (backslash > quote) {
      scan.at = quote + 1;
      scan.start = start;
      scan.end = quote;
      scan.escaped = escaped;
      return;
    }
    escaped = true;
    const kind = body[backslash + 1];
    if (kind === 0x75) {
      // \uXXXX: JSON.stringify writes only control characters this way (other than \b \t \n \f \r), in lower case.
      const hex = body.toString('latin1', backslash + 2, backslash + 6);
      const code = Number.parseInt(hex, 16);
      if (!(code < 0x20 && code !== 8 && code !== 9 && code !== 10 && code !== 12 && code !== 13 && hex === hex.toLowerCase())) scan.canonical = false;
      at = backslash + 6;
    } else {
      // \" \\ \b \f \n \r \t are JSON.stringify's; \/ is not.
      if (kind === 0x2f) scan.canonical = false;
      at = backslash + 2;
    }
  }
}

/** Whether a number is written as JSON.stringify writes the double it parses to. */
function canonicalNumber(text: string): boolean {
  // Integers of up to 15 digits are exact in a double; the common case, without a conversion.
  if (/^-?(?:0|[1-9]\d{0,14})$/.test(text)) return text !== '-0';
  return String(Number(text)) === text;
}

function isNumberByte(byte: number | undefined): boolean {
  return byte !== undefined && ((byte >= 0x30 && byte <= 0x39) || byte === 0x2d || byte === 0x2b || byte === 0x2e || byte === 0x65 || byte === 0x45);
}

/** Reads one value, updating `scan.canonical`; `depth` as nestsDeeperThan counts it. */
function value(body: Buffer, scan: Scan, depth: number): void {
  const byte = body[scan.at];
  if (byte === QUOTE) {
    string(body, scan);
  } else if (byte === 0x7b || byte === 0x5b) {
    // Past the depth values may have (the parsed value is refused for it), and before the stack could run out: give the body up.
    if (depth >= MAX_JSON_DEPTH) throw new Error('too deep');
    if (byte === 0x7b) object(body, scan, depth);
    else array(body, scan, depth);
  } else if (byte === 0x74 || byte === 0x6e) {
    scan.at += 4; // true, null
  } else if (byte === 0x66) {
    scan.at += 5; // false
  } else {
    const start = scan.at;
    while (isNumberByte(body[scan.at])) scan.at++;
    if (scan.at === start) throw new Error(`unexpected byte ${byte}`);
    if (!canonicalNumber(body.toString('latin1', start, scan.at))) scan.canonical = false;
  }
}

function object(body: Buffer, scan: Scan, depth: number): void {
  scan.at++;
  spaceInside(body, scan);
  if (body[scan.at] === 0x7d) {
    scan.at++;
    return;
  }
  let keys: Set<string> | undefined;
  let first: string | undefined;
  for (;;) {
    string(body, scan);
    const key = body.toString('latin1', scan.start, scan.end);
    // JSON.parse keeps the last of repeated keys, and V8 puts integer-like keys first: either changes what JSON.stringify writes.
    if (/^\d+$/.test(key)) scan.canonical = false;
    if (first === undefined) first = key;
    else {
      keys ??= new Set([first]);
      if (keys.has(key)) scan.canonical = false;
      keys.add(key);
    }
    spaceInside(body, scan);
    scan.at++; // :
    spaceInside(body, scan);
    value(body, scan, depth + 1);
    spaceInside(body, scan);
    if (body[scan.at++] === 0x7d) return;
    spaceInside(body, scan);
  }
}

function array(body: Buffer, scan: Scan, depth: number): void {
  scan.at++;
  spaceInside(body, scan);
  if (body[scan.at] === 0x5d) {
    scan.at++;
    return;
  }
  for (;;) {
    value(body, scan, depth + 1);
    spaceInside(body, scan);
    if (body[scan.at++] === 0x5d) return;
    spaceInside(body, scan);
  }
}

/** Skips a value outside the records' values: only where it ends matters. */
function skip(body: Buffer, scan: Scan): void {
  const canonical = scan.canonical;
  value(body, scan, 0);
  scan.canonical = canonical;
}

const VALUE = Buffer.from('value');
const RECORDS = Buffer.from('records');

/** Reads a key; answers whether it is `name`, compared by its bytes, or undefined when it has an escape (it could spell any name). */
function keyIs(body: Buffer, scan: Scan, name: Buffer): boolean | undefined {
  string(body, scan);
  if (scan.escaped) return undefined;
  return scan.end - scan.start === name.length && body.compare(name, 0, name.length, scan.start, scan.end) === 0;
}

/** One record object: the bytes of its `value` when they are JSON.stringify's; undefined otherwise. */
function recordValue(body: Buffer, scan: Scan): Buffer | undefined {
  if (body[scan.at] !== 0x7b) {
    skip(body, scan);
    return undefined;
  }
  scan.at++;
  skipSpace(body, scan);
  if (body[scan.at] === 0x7d) {
    scan.at++;
    return undefined;
  }
  let found: Buffer | undefined;
  // A key with an escape might spell `value`: then this record's bytes are not used.
  let unsure = false;
  for (;;) {
    const isValue = keyIs(body, scan, VALUE);
    skipSpace(body, scan);
    scan.at++; // :
    skipSpace(body, scan);
    if (isValue === true) {
      const start = scan.at;
      scan.canonical = true;
      value(body, scan, 0);
      // The last `value` counts, as JSON.parse keeps the last of repeated keys.
      found = scan.canonical ? body.subarray(start, scan.at) : undefined;
    } else {
      if (isValue === undefined) unsure = true;
      skip(body, scan);
    }
    skipSpace(body, scan);
    if (body[scan.at++] === 0x7d) return unsure ? undefined : found;
    skipSpace(body, scan);
  }
}

/**
 * For a body `{"records": [...]}` already parsed by JSON.parse from UTF-8:
 * per record, its value's bytes when they are what JSON.stringify writes of
 * the parsed value, else undefined. Undefined for the whole body when it is
 * not valid UTF-8 (the parser replaced what was not), is not shaped as
 * expected, or nests deeper than values may.
 */
export function rawRecordValues(body: Buffer): Array<Buffer | undefined> | undefined {
  if (!isUtf8(body)) return undefined;
  const scan: Scan = { at: 0, canonical: true, backslash: -1, start: 0, end: 0, escaped: false };
  try {
    skipSpace(body, scan);
    if (body[scan.at] !== 0x7b) return undefined;
    scan.at++;
    skipSpace(body, scan);
    let values: Array<Buffer | undefined> | undefined;
    if (body[scan.at] === 0x7d) return undefined;
    for (;;) {
      const isRecords = keyIs(body, scan, RECORDS);
      // A key with an escape might be `records`: give up rather than guess.
      if (isRecords === undefined) return undefined;
      skipSpace(body, scan);
      scan.at++; // :
      skipSpace(body, scan);
      if (isRecords && body[scan.at] === 0x5b) {
        values = [];
        scan.at++;
        skipSpace(body, scan);
        if (body[scan.at] === 0x5d) scan.at++;
        else {
          for (;;) {
            values.push(recordValue(body, scan));
            skipSpace(body, scan);
            if (body[scan.at++] === 0x5d) break;
            skipSpace(body, scan);
          }
        }
      } else {
        skip(body, scan);
        if (isRecords) values = undefined;
      }
      skipSpace(body, scan);
      if (body[scan.at++] === 0x7d) return values;
      skipSpace(body, scan);
    }
  } catch {
    return undefined;
  }
}
