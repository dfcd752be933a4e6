/**
 * Large JSON bodies parsed in pieces. V8 keeps every string of 128 KiB or
 * more in its large-object space, where making and freeing one costs about
 * ten times what the same bytes cost as a few smaller strings: a 136 KB
 * batch of base64 values took 290 µs to decode and parse as one text and
 * 150 µs as three. So a body of the one shape batches take, an object with
 * one member holding an array (`{"records": [...]}`), is read element run
 * by element run, each run short enough to stay out of that space.
 *
 * The result is exactly what parsing the whole text gives, or undefined:
 * the caller then parses the whole text, which also writes the error a
 * refused body gets. Runs are cut only at commas between the array's own
 * elements, so runs that each parse mean the whole text parses, to the
 * same value.
 */

/** Text of this many bytes or more would become a large-object string (V8's limit is 128 KiB, less its header). */
export const LARGE_TEXT_BYTES = 128 * 1024 - 64;
/** Bytes of elements per run: well under the limit, so that a run ending on a long element stays under it too. */
const RUN_BYTES = 48 * 1024;
/** The share of bytes outside strings above which the cutter gives up: elements made mostly of structure cost more to cut than the large string costs. */
const STRUCTURE_SHARE = 1 / 8;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const isSpace = (byte: number | undefined) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/**
 * Parses a run of array elements (the bytes between two cuts, without
 * brackets) as an array; undefined when the run is not exactly valid JSON.
 */
export type RunParser = (bytes: Uint8Array) => unknown[] | undefined;

/** The body's value, parsed run by run; undefined when the body is not of the one-member-array shape or a run does not parse. */
export function parseInPieces(bytes: Uint8Array, parseRun: RunParser): Record<string, unknown> | undefined {
  const head = readHead(bytes);
  if (!head) return undefined;
  let close = bytes.length - 1;
  while (isSpace(bytes[close])) close -= 1;
  if (bytes[close] !== 0x7d /* } */) return undefined;
  close -= 1;
  while (isSpace(bytes[close])) close -= 1;
  if (bytes[close] !== 0x5d /* ] */ || close <= head.open) return undefined;

  const elements: unknown[] = [];
  let runStart = head.open + 1;
  let depth = 0;
  let structure = 0;
  for (let i = runStart; i < close; i++) {
    const byte = bytes[i]!;
    if (byte === QUOTE) {
      i = stringEnd(bytes, i, close);
      if (i < 0) return undefined;
      continue;
    }
    structure += 1;
    if ((structure & 1023) === 0 && structure > (i - head.open) * STRUCTURE_SHARE) return undefined;
    if (byte === 0x7b /* { */ || byte === 0x5b /* [ */) depth += 1;
    else if (byte === 0x7d /* } */ || byte === 0x5d /* ] */) {
      depth -= 1;
      if (depth < 0) return undefined;
    } else if (byte === COMMA && depth === 0 && i - runStart >= RUN_BYTES) {
      if (!appendRun(bytes.subarray(runStart, i), parseRun, elements)) return undefined;
      runStart = i + 1;
    }
  }
  // One run would be the whole array as one string: nothing gained.
  if (runStart === head.open + 1) return undefined;
  if (!appendRun(bytes.subarray(runStart, close), parseRun, elements)) return undefined;
  return { [head.key]: elements };
}

/** `{ "key" : [` at the start, with the position of the bracket; the key plain ASCII, so that its bytes are its name. */
function readHead(bytes: Uint8Array): { key: string; open: number } | undefined {
  let i = 0;
  while (isSpace(bytes[i])) i += 1;
  if (bytes[i] !== 0x7b /* { */) return undefined;
  i += 1;
  while (isSpace(bytes[i])) i += 1;
  if (bytes[i] !== QUOTE) return undefined;
  const keyStart = i + 1;
  let keyEnd = keyStart;
  for (; keyEnd < bytes.length && bytes[keyEnd] !== QUOTE; keyEnd++) {
    const byte = bytes[keyEnd]!;
    if (byte < 0x20 || byte > 0x7e || byte === BACKSLASH) return undefined;
  }
  const key = Buffer.from(bytes.buffer, bytes.byteOffset + keyStart, keyEnd - keyStart).toString('latin1');
  // Left to JSON.parse, whose handling of this name is the one a body gets everywhere else.
  if (key === '__proto__') return undefined;
  i = keyEnd + 1;
  while (isSpace(bytes[i])) i += 1;
  if (bytes[i] !== COLON) return undefined;
  i += 1;
  while (isSpace(bytes[i])) i += 1;
  if (bytes[i] !== 0x5b /* [ */) return undefined;
  return { key, open: i };
}

/** The position of the quote ending the string opened at `open`, or -1 when it does not end before `limit`. */
function stringEnd(bytes: Uint8Array, open: number, limit: number): number {
  let from = open + 1;
  for (;;) {
    const quote = bytes.indexOf(QUOTE, from);
    if (quote < 0 || quote >= limit) return -1;
    let backslashes = 0;
    while (bytes[quote - 1 - backslashes] === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

/** Parses a run onto `into`. Every run is beside a cut, so it must hold an element, or `[a, , b]` and a trailing comma would pass. */
function appendRun(run: Uint8Array, parseRun: RunParser, into: unknown[]): boolean {
  const parsed = parseRun(run);
  if (!parsed || parsed.length === 0) return false;
  for (const element of parsed) into.push(element);
  return true;
}
