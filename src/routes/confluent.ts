import type { Response } from 'express';
import type { GatewayError } from '../errors.js';

/** Confluent REST Proxy v2's media type for answers without embedded records. */
export const CONFLUENT_V2 = 'application/vnd.kafka.v2+json';

/**
 * Confluent's error codes: the HTTP status with a digit or two appended
 * where the proxy distinguishes causes (40401 topic not found, 40402
 * partition not found, 42201 record invalid, 50003 a retriable Kafka
 * error); plain status codes otherwise.
 */
export function confluentErrorCode(error: GatewayError): number {
  switch (error.code) {
    case 'GW_ERR_TOPIC_NOT_FOUND':
      return 40401;
    case 'GW_ERR_INVALID_PARTITION':
      return 40402;
    case 'GW_ERR_SCHEMA_VIOLATION':
      return 42201;
    case 'GW_ERR_KAFKA_UNAVAILABLE':
    case 'GW_ERR_KAFKA_TIMEOUT':
      return 50003;
    default:
      return error.status;
  }
}

export function sendV2(res: Response, status: number, body: unknown): void {
  res.status(status).type(CONFLUENT_V2).send(JSON.stringify(body));
}

/** An error in Confluent's `{error_code, message}` shape, so v2 clients parse it unchanged. */
export function sendV2Error(res: Response, error: GatewayError): void {
  if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
  sendV2(res, error.status, { error_code: confluentErrorCode(error), message: error.detail });
}
