/**
 * The one strict UTF-8 reading of bytes: malformed sequences are refused,
 * never replaced with U+FFFD, so bytes that are not text are never passed
 * off as text.
 */
const strict = new TextDecoder('utf-8', { fatal: true });

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
