import type { Request } from 'express';
import { GatewayError } from '../errors.js';

/** A query parameter the client got wrong, named in the problem so it knows what to fix. */
export function badQuery(name: string, message: string): GatewayError {
  return new GatewayError('GW_ERR_VALIDATION', `Query parameter ${name} ${message}.`, {
    errors: [{ pointer: `/query/${name}`, message }],
    extensions: { parameter: name },
  });
}

/** One query value as a string, or undefined; a repeated parameter is refused rather than guessed at. */
export function queryString(req: Request, name: string): string | undefined {
  const value: unknown = (req.query as Record<string, unknown>)[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badQuery(name, 'must be given once');
  return value;
}

export function queryBoolean(req: Request, name: string, fallback: boolean): boolean {
  const value = queryString(req, name);
  if (value === undefined || value === '') return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badQuery(name, `must be true or false, not ${JSON.stringify(value)}`);
}

export function queryOneOf<T extends string>(req: Request, name: string, allowed: readonly T[], fallback: T): T {
  const value = queryString(req, name);
  if (value === undefined || value === '') return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw badQuery(name, `must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}`);
}

/** An instant as epoch milliseconds, or ISO 8601: a date (midnight UTC) or a date and time with a zone. */
export function queryTimestamp(req: Request, name: string): number {
  const value = queryString(req, name);
  if (value === undefined || value === '') throw badQuery(name, 'is required: an ISO 8601 time such as 2026-01-31T12:00:00Z, or epoch milliseconds');
  if (/^\d{1,15}$/.test(value)) return Number(value);
  // Date.parse takes many forms and reads a time without a zone as local time; require full ISO 8601 with a zone.
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value);
  const ms = iso ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms) || ms < 0) {
    throw badQuery(name, `must be an ISO 8601 time such as 2026-01-31T12:00:00Z or epoch milliseconds, not ${JSON.stringify(value)}`);
  }
  return ms;
}
