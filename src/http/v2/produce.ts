/**
 * Confluent REST Proxy v2 produce: the one record pipeline, spoken in
 * Confluent's request and response shapes and error codes, so that existing
 * REST Proxy clients work unchanged. docs/confluent-v2.md lists what matches
 * and what differs. Errors leave through problemHandler in Confluent's
 * shape (x-error-format in openapi.yaml), mapped from the same gateway error
 * the other transports answer with.
 */
import type { Response } from 'express';
import { GatewayError, toGatewayError, type ErrorCode, type FieldError, type Logger } from '../../common/index.js';
import { decodeRecord, type DataFormat, type DecodedRecord, type RecordPipeline } from '../../records/index.js';
import { sendV2 as send } from './conventions.js';
import type { Handlers, OperationInput } from '../contract.js';

/** The media types whose keys and values are JSON; every other one Confluent takes (v1 and v2, with or without `binary`) means base64. */
const JSON_EMBEDDED: ReadonlySet<string> = new Set(['application/vnd.kafka.json.v2+json', 'application/vnd.kafka.json.v1+json']);

export interface ConfluentRouteDeps {
  readonly pipeline: RecordPipeline;
  readonly logger: Logger;
}

/** Failures of the send itself: Confluent reports these per record, inside a 200. */
const PER_RECORD: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['GW_ERR_RECORD_TOO_LARGE', 'GW_ERR_KAFKA_UNAVAILABLE', 'GW_ERR_INTERNAL']);

type Body = OperationInput<'confluentProduce'>['body'];

/** POST /topics/{topic} and /topics/{topic}/partitions/{partition}. */
export function confluentProduceHandlers({ pipeline, logger }: ConfluentRouteDeps): Pick<Handlers, 'confluentProduce' | 'confluentProduceToPartition'> {
  const produce = async (topic: string, partition: number | undefined, mediaType: string | undefined, body: Body, res: Response) => {
    pipeline.checkTopic(topic);
    const format: DataFormat = mediaType !== undefined && JSON_EMBEDDED.has(mediaType) ? 'json' : 'binary';
    const errors: FieldError[] = [];
    const decoded = body.records.map(({ partition: own, ...input }, index) =>
      // A record on the partition route goes to that partition whatever it names, as in Confluent; `null` names none.
      decodeRecord({ ...input, ...(partition !== undefined ? { partition } : own === null || own === undefined ? {} : { partition: own }) }, index, { key: format, value: format, stringKeysAsText: false }, errors),
    );
    if (errors.length > 0) throw new GatewayError('GW_ERR_VALIDATION', 'The request is not valid.', { errors });
    const records = decoded as DecodedRecord[];
    try {
      const produced = await pipeline.send(await pipeline.check(topic, records));
      send(res, 200, {
        offsets: produced.map(({ partition: p, offset }) => ({ partition: p, offset: Number(offset), error_code: null, error: null })),
        key_schema_id: null,
        value_schema_id: null,
      });
    } catch (error) {
      const gatewayError = toGatewayError(error);
      if (!PER_RECORD.has(gatewayError.code)) throw error;
      if (gatewayError.status >= 500) logger.warn({ err: gatewayError.cause ?? gatewayError }, gatewayError.detail);
      // Confluent: 1 for a failure that a retry will not fix, 2 for one it may.
      const errorCode = gatewayError.retriable ? 2 : 1;
      send(res, 200, {
        offsets: records.map(() => ({ partition: null, offset: null, error_code: errorCode, error: gatewayError.detail })),
        key_schema_id: null,
        value_schema_id: null,
      });
    }
  };
  return {
    confluentProduce: ({ path, mediaType, body, res }) => produce(path.topic, undefined, mediaType, body, res),
    confluentProduceToPartition: ({ path, mediaType, body, res }) => produce(path.topic, path.partition, mediaType, body, res),
  };
}
