/**
 * The one reading of an instant anywhere a client gives one: record
 * timestamps, query parameters, the WebSocket `from`. Epoch milliseconds, or
 * an RFC 3339 date-time with an explicit offset; nothing else. Date.parse is
 * not used on client text: it takes "Jan 31 2026" and reads a time without an
 * offset in the server's own zone, so the same request would mean different
 * instants on different gateways.
 */
import { GatewayError } from './errors.js';

/** What a client is told when its instant is refused. */
export const TIMESTAMP_RULE = 'epoch milliseconds or an RFC 3339 date-time with an offset, such as 2026-01-31T12:00:00Z';

// 9999-12-31T23:59:59.999Z: later values are almost certainly microseconds or nanoseconds by mistake.
export const MAX_TIMESTAMP_MS = 253_402_300_799_999;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const EPOCH_TEXT = /^\d{1,15}$/;

function inRange(ms: number): number | undefined {
  return Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_TIMESTAMP_MS ? ms : undefined;
}

/** An RFC 3339 date-time with an offset as epoch milliseconds, or undefined for anything else (including Feb 30 or hour 24). */
export function parseRfc3339(text: string): number | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const fraction = Math.floor(Number(`0.${m[7] ?? '0'}`) * 1000);
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const offsetMinutes = m[8] ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  if (!m[8] && (Number(m[10]) > 23 || Number(m[11]) > 59)) return undefined;
  const local = Date.UTC(year, month - 1, day, hour, minute, second, fraction);
  // Date.UTC rolls Feb 30 over into March; a date that does not exist is refused instead.
  const check = new Date(local);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined;
  return inRange(local - offsetMinutes * 60_000);
}

/** A timestamp from JSON: a whole number of epoch milliseconds, or an RFC 3339 string. */
export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value === 'number') return inRange(value);
  if (typeof value === 'string') return parseRfc3339(value);
  return undefined;
}

/** A timestamp from text (a query parameter): digits are epoch milliseconds, anything else must be RFC 3339. */
export function parseTimestampText(text: string): number | undefined {
  return EPOCH_TEXT.test(text) ? inRange(Number(text)) : parseRfc3339(text);
}

/**
 * An instant given as the query parameter `parameter` (read by
 * parseTimestampText), or GW_ERR_VALIDATION naming the parameter and
 * pointing at /query/<parameter>. `alternatives`: the words the parameter
 * also takes (the caller has handled them), named in the refusal.
 */
export function queryInstant(parameter: string, text: string, alternatives: readonly string[] = []): number {
  const timestamp = parseTimestampText(text);
  if (timestamp !== undefined) return timestamp;
  const message = `must be ${alternatives.map((word) => `${word}, `).join('')}${alternatives.length > 0 ? 'or ' : ''}${TIMESTAMP_RULE}`;
  throw new GatewayError('GW_ERR_VALIDATION', `Query parameter ${parameter} ${message}, not ${JSON.stringify(text)}.`, {
    errors: [{ pointer: `/query/${parameter}`, message }],
    extensions: { parameter },
  });
}

/** An RFC 3339 date-time a schema has already let through (edgeAjv's `date-time` is parseRfc3339), as epoch milliseconds. */
export function checkedRfc3339(text: string): number {
  return parseRfc3339(text) ?? 0;
}
