/**
 * Confluent REST Proxy v2 produce: the same produce path as /v1, spoken in
 * Confluent's request and response shapes and error codes, so that existing
 * REST Proxy clients work unchanged. docs/confluent-v2.md lists what matches
 * and what differs. Errors leave through problemHandler in Confluent's
 * shape (x-error-format in openapi.yaml).
 */
import { Router, type Request, type Response } from 'express';
import { GatewayError, toGatewayError, type ErrorCode, type FieldError } from '../errors.js';
import { sendV2 as send } from './confluent.js';
import type { Logger } from '../logger.js';
import { checkProduceTopic, checkSchema, decodeRecord, schemasLoaded, type DataFormat, type DecodedRecord, type ProduceDeps } from '../records/index.js';

const BINARY_V2 = 'application/vnd.kafka.binary.v2+json';

export interface ConfluentRouteDeps extends ProduceDeps {
  readonly logger: Logger;
}

/** Failures of the send itself: Confluent reports these per record, inside a 200. */
const PER_RECORD: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['GW_ERR_RECORD_TOO_LARGE', 'GW_ERR_KAFKA_UNAVAILABLE', 'GW_ERR_KAFKA_TIMEOUT', 'GW_ERR_INTERNAL']);

/** POST /topics/{topic} and /topics/{topic}/partitions/{partition}. */
export function confluentRouter(deps: ConfluentRouteDeps): Router {
  const router = Router();

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
    // The body arrives parsed and checked against openapi.yaml (checkRequestBody).
    const inputs = (req.body as { records: unknown[] }).records;
    const errors: FieldError[] = [];
    const decoded = inputs.map((input, index) => {
      // A record on the partition route may not name a partition of its own, as in Confluent.
      const withPartition = partition === undefined ? input : { ...(input as object), partition };
      return decodeRecord(withPartition, index, { key: format, value: format, stringKeysAsText: false }, errors);
    });
    if (errors.length > 0) throw new GatewayError('GW_ERR_VALIDATION', 'The request is not valid.', { errors });
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
    router.post(path, produce);
  }
  return router;
}
