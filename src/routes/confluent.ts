/**
 * Confluent REST Proxy v2 produce: the same produce path as /v1, spoken in
 * Confluent's request and response shapes and error codes, so that existing
 * REST Proxy clients work unchanged. docs/confluent-v2.md lists what matches
 * and what differs.
 */
import express, { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import { GatewayError, toGatewayError, type ErrorCode, type FieldError } from '../errors.js';
import type { Logger } from '../logger.js';
import { checkProduceTopic, checkSchema, decodeRecord, schemasLoaded, type DataFormat, type DecodedRecord, type ProduceDeps } from '../records/index.js';

export const CONFLUENT_V2 = 'application/vnd.kafka.v2+json';
const JSON_V2 = 'application/vnd.kafka.json.v2+json';
const BINARY_V2 = 'application/vnd.kafka.binary.v2+json';
const BODY_FIELDS = new Set(['records', 'key_schema', 'key_schema_id', 'value_schema', 'value_schema_id']);

export interface ConfluentRouteDeps extends ProduceDeps {
  readonly bodyLimitBytes: number;
  readonly logger: Logger;
}

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
  GW_ERR_KAFKA_TIMEOUT: [500, 50003],
  GW_ERR_INTERNAL: [500, 50002],
};

/** Failures of the send itself: Confluent reports these per record, inside a 200. */
const PER_RECORD: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['GW_ERR_RECORD_TOO_LARGE', 'GW_ERR_KAFKA_UNAVAILABLE', 'GW_ERR_KAFKA_TIMEOUT', 'GW_ERR_INTERNAL']);

function describeErrors(errors: readonly FieldError[] | undefined): string {
  if (!errors?.length) return '';
  return ` ${errors.slice(0, 10).map((e) => `${e.index === undefined ? '' : `records[${e.index}]`}${e.pointer}: ${e.message}`).join('; ')}`;
}

function send(res: Response, status: number, body: unknown): void {
  res.status(status).type(CONFLUENT_V2).send(JSON.stringify(body));
}

/** Every error from these routes leaves as Confluent's {error_code, message}; the v2 metadata routes can mount it too. */
export function confluentErrors(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req: Request, res: Response, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const type = (error as { type?: unknown } | null)?.type;
    const gatewayError =
      type === 'entity.parse.failed'
        ? new GatewayError('GW_ERR_MALFORMED_JSON', 'The request body is not valid JSON.')
        : type === 'entity.too.large'
          ? new GatewayError('GW_ERR_PAYLOAD_TOO_LARGE', 'The request body is larger than the limit.')
          : toGatewayError(error);
    if (gatewayError.status >= 500) logger.error({ err: gatewayError.cause ?? gatewayError, route: req.route?.path }, gatewayError.detail);
    const [status, code] = CODES[gatewayError.code] ?? [gatewayError.status, gatewayError.status];
    if (gatewayError.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(gatewayError.retryAfterSeconds));
    send(res, status, { error_code: code, message: `${gatewayError.detail}${describeErrors(gatewayError.errors)}` });
  };
}

/** POST /topics/{topic} and /topics/{topic}/partitions/{partition}. */
export function confluentRouter(deps: ConfluentRouteDeps): Router {
  const router = Router();
  const json = express.json({ limit: deps.bodyLimitBytes, type: [JSON_V2, BINARY_V2] });

  const produce = async (req: Request, res: Response) => {
    const topic = req.params.topic as string;
    checkProduceTopic(topic);
    let partition: number | undefined;
    if (req.params.partition !== undefined) {
      const raw = req.params.partition as string;
      if (!/^\d{1,9}$/.test(raw)) throw new GatewayError('GW_ERR_INVALID_PARTITION', `Partition ${JSON.stringify(raw)} not found.`);
      partition = Number(raw);
    }
    const format: DataFormat = req.is(BINARY_V2) ? 'binary' : 'json';
    const body: unknown = req.body;
    const errors: FieldError[] = [];
    if (typeof body !== 'object' || body === null || Array.isArray(body) || !Array.isArray((body as { records?: unknown }).records)) {
      throw new GatewayError('GW_ERR_VALIDATION', 'The body must be an object with a records array.');
    }
    for (const field of Object.keys(body)) if (!BODY_FIELDS.has(field)) errors.push({ pointer: `/${field}`, message: `Unrecognized field "${field}"` });
    const inputs = (body as { records: unknown[] }).records;
    const decoded = inputs.map((input, index) => {
      // A record on the partition route may not name a partition of its own, as in Confluent.
      const withPartition = partition === undefined || typeof input !== 'object' || input === null ? input : { ...(input as object), partition };
      return decodeRecord(withPartition, index, { key: format, value: format, stringKeysAsText: false }, errors);
    });
    if (errors.length > 0) throw new GatewayError('GW_ERR_VALIDATION', 'The request is not valid.', { errors });
    if (decoded.length === 0) throw new GatewayError('GW_ERR_VALIDATION', 'The records array is empty.');
    const records = decoded as DecodedRecord[];
    await schemasLoaded(deps);
    const outgoing = records.map((r) => r.record);
    try {
      await deps.produce.check(topic, outgoing);
      checkSchema(deps, topic, records);
      const produced = await deps.produce.send(topic, outgoing);
      send(res, 200, {
        offsets: produced.map(({ partition: p, offset }) => ({ partition: p, offset: Number(offset), error_code: null, error: null })),
        key_schema_id: null,
        value_schema_id: null,
      });
    } catch (error) {
      const gatewayError = toGatewayError(error);
      if (!PER_RECORD.has(gatewayError.code)) throw error;
      if (gatewayError.status >= 500) deps.logger.warn({ err: gatewayError.cause ?? gatewayError }, gatewayError.detail);
      // Confluent: 1 for a failure that a retry will not fix, 2 for one it may.
      const errorCode = gatewayError.retriable ? 2 : 1;
      send(res, 200, {
        offsets: outgoing.map(() => ({ partition: null, offset: null, error_code: errorCode, error: gatewayError.detail })),
        key_schema_id: null,
        value_schema_id: null,
      });
    }
  };

  for (const path of ['/topics/:topic', '/topics/:topic/partitions/:partition']) {
    router.post(path, (req, _res, next) => {
      if (!req.is([JSON_V2, BINARY_V2])) {
        next(new GatewayError('GW_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type ${req.headers['content-type'] ?? 'none'} is not supported; send ${JSON_V2} or ${BINARY_V2}.`));
        return;
      }
      next();
    }, json, produce);
  }
  router.use(confluentErrors(deps.logger));
  return router;
}
