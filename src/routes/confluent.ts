/**
 * Confluent REST Proxy v2's wire conventions, shared by the v2 produce and
 * metadata routes: its media type and its `{error_code, message}` errors.
 * problemHandler answers in this shape for operations marked
 * `x-error-format: confluent-v2` in openapi.yaml.
 */
import type { Response } from 'express';
import type { ErrorCode, FieldError, GatewayError } from '../errors.js';
import { describeFieldErrors } from '../field-errors.js';

export const CONFLUENT_V2 = 'application/vnd.kafka.v2+json';

/** A gateway error as Confluent's HTTP status and error_code. */
const CODES: Partial<Record<ErrorCode, readonly [status: number, code: number]>> = {
  GW_ERR_TOPIC_NOT_FOUND: [404, 40401],
  GW_ERR_INVALID_PARTITION: [404, 40402],
  GW_ERR_INVALID_TOPIC: [400, 40002],
  GW_ERR_FORBIDDEN: [403, 40301],
  GW_ERR_UNAUTHENTICATED: [401, 40101],
  GW_ERR_MALFORMED_JSON: [400, 400],
  GW_ERR_BAD_REQUEST: [400, 400],
  GW_ERR_VALIDATION: [422, 422],
  GW_ERR_SCHEMA_VIOLATION: [422, 42206],
  GW_ERR_PAYLOAD_TOO_LARGE: [413, 413],
  GW_ERR_UNSUPPORTED_MEDIA_TYPE: [415, 415],
  GW_ERR_TOO_MANY_REQUESTS: [429, 42901],
  GW_ERR_OVERLOADED: [429, 42901],
  GW_ERR_KAFKA_UNAVAILABLE: [503, 50302],
  GW_ERR_SHUTTING_DOWN: [503, 50302],
  GW_ERR_INTERNAL: [500, 50002],
};

/** Field errors not already in the detail, folded into Confluent's one message: each problem said once. */
function withErrors(detail: string, errors: readonly FieldError[] | undefined): string {
  const unsaid = (errors ?? []).filter((e) => !detail.includes(`${e.pointer} ${e.message}`));
  return unsaid.length === 0 ? detail : `${detail} ${describeFieldErrors(unsaid)}.`;
}

export function sendV2(res: Response, status: number, body: unknown): void {
  res.status(status).type(CONFLUENT_V2).send(JSON.stringify(body));
}

/** An error in Confluent's shape, so v2 clients parse it unchanged; field errors are folded into the message. */
/** Confluent's HTTP status and error_code for a gateway error. */
export function confluentCodes(error: Pick<GatewayError, 'code' | 'status'>): readonly [status: number, code: number] {
  return CODES[error.code] ?? [error.status, error.status];
}

export function sendV2Error(res: Response, error: GatewayError): void {
  const [status, code] = confluentCodes(error);
  if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
  sendV2(res, status, { error_code: code, message: withErrors(error.detail, error.errors) });
}
