/**
 * Key filters as clients write them (UTF-8 text, or base64 for keys that
 * are not text) turned into the key bytes records are compared with; the
 * same for WebSocket subscribe frames, the single-topic WebSocket endpoint
 * and event streams.
 */
import { GatewayError } from '../common/index.js';

export type KeyFormat = 'text' | 'base64';

/** The most keys one subscription may filter on. */
export const MAX_KEYS = 1000;

/** Canonical base64, padded: what keys and values in base64 must be. */
export const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A key filter's keys as bytes; throws a GatewayError naming `pointer` for a key that is not base64 when it should be. */
export function keyFilter(keys: readonly string[] | undefined, format: KeyFormat = 'text', pointer = '/keys'): Buffer[] | undefined {
  if (keys === undefined) return undefined;
  return keys.map((key, i) => {
    if (format === 'text') return Buffer.from(key, 'utf8');
    if (!BASE64.test(key)) {
      throw new GatewayError('GW_ERR_VALIDATION', `Key ${i} is not base64 (keyFormat is base64).`, { errors: [{ pointer: `${pointer}/${i}`, message: 'is not base64' }] });
    }
    return Buffer.from(key, 'base64');
  });
}
