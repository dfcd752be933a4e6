/**
 * The Confluent Schema Registry API's wire conventions: its media type and
 * `{error_code, message}` errors with the registry's codes, for the
 * operations marked `x-error-format: schema-registry` and every path under
 * the registry's prefix, unknown ones too.
 */
import type { Response } from 'express';
import { describeFieldErrors, type ErrorCode, type GatewayError } from '../../common/index.js';

export const SCHEMA_REGISTRY_MEDIA_TYPE = 'application/vnd.schemaregistry.v1+json';
export const REGISTRY_PATH = '/schema-registry';

const CODES: Partial<Record<ErrorCode, readonly [status: number, code: number]>> = {
  GW_ERR_SUBJECT_NOT_FOUND: [404, 40401],
  GW_ERR_VERSION_NOT_FOUND: [404, 40402],
  GW_ERR_SCHEMA_NOT_FOUND: [404, 40403],
  GW_ERR_INCOMPATIBLE_SCHEMA: [409, 409],
  GW_ERR_INVALID_SCHEMA: [422, 42201],
  GW_ERR_VALIDATION: [422, 422],
  GW_ERR_MALFORMED_JSON: [400, 400],
  GW_ERR_KAFKA_UNAVAILABLE: [503, 50003],
  GW_ERR_INTERNAL: [500, 50001],
};

export function isRegistryPath(path: string): boolean {
  return path === REGISTRY_PATH || path.startsWith(`${REGISTRY_PATH}/`);
}

export function sendRegistry(res: Response, status: number, body: unknown): void {
  res.status(status).type(SCHEMA_REGISTRY_MEDIA_TYPE).send(JSON.stringify(body));
}

export function sendRegistryError(res: Response, error: GatewayError): void {
  let [status, code] = CODES[error.code] ?? [error.status, error.status];
  // The registry's own codes for a bad version number and a bad compatibility level.
  const pointer = error.errors?.[0]?.pointer ?? '';
  if (error.code === 'GW_ERR_VALIDATION' && pointer === '/path/version') code = 42202;
  if (error.code === 'GW_ERR_VALIDATION' && pointer.startsWith('/compatibility')) code = 42203;
  if (status === 400 && error.code === 'GW_ERR_VALIDATION') status = 422;
  if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
  const unsaid = (error.errors ?? []).filter((e) => !error.detail.includes(e.message));
  sendRegistry(res, status, { error_code: code, message: unsaid.length === 0 ? error.detail : `${error.detail} ${describeFieldErrors(unsaid)}.` });
}
