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
import { decodeRecord, misfits, resolveSchemas, type DataFormat, type DecodedRecord, type Formats, type RecordPipeline, type SchemaChoices } from '../../records/index.js';
import type { SchemaSource } from '../../schema/index.js';
import type { SubjectStrategy } from '../../config.js';
import { sendV2 as send } from './conventions.js';
import type { Handlers, OperationInput } from '../contract.js';

/** The media types whose keys and values are JSON; every other one Confluent takes (v1 and v2, with or without `binary`) means base64. */
const JSON_EMBEDDED: ReadonlySet<string> = new Set(['application/vnd.kafka.json.v2+json', 'application/vnd.kafka.json.v1+json']);
/** The embedded formats of the schema registry wire format, by media type. */
const REGISTRY_EMBEDDED: Readonly<Record<string, DataFormat>> = {
  'application/vnd.kafka.avro.v2+json': 'avro',
  'application/vnd.kafka.jsonschema.v2+json': 'jsonschema',
  'application/vnd.kafka.protobuf.v2+json': 'protobuf',
};
const V2_NAMES: SchemaChoices['names'] = (field, part) => `${field}_schema${part === 'id' ? '_id' : ''}`;

export interface ConfluentRouteDeps {
  readonly pipeline: RecordPipeline;
  readonly logger: Logger;
  /** Where the schemas of the avro, jsonschema and protobuf formats come from. */
  readonly schemaSource: SchemaSource;
  readonly subjectStrategy?: SubjectStrategy;
}

/**
 * A registry format's key and value formats and schemas, as Confluent
 * takes them: the value's schema by `value_schema_id` or inline in
 * `value_schema` (registered under `<topic>-value`), likewise the key's; a
 * record with a key needs a key schema (42201), every request a value
 * schema (42202).
 */
async function registryFormats(source: SchemaSource, strategy: SubjectStrategy | undefined, topic: string, format: DataFormat, body: Body): Promise<Formats> {
  const hasKeys = body.records.some((r) => r.key !== undefined && r.key !== null);
  const keyNamed = (body.key_schema ?? body.key_schema_id ?? undefined) !== undefined;
  if (hasKeys && !keyNamed) throw new GatewayError('GW_ERR_SCHEMA_MISSING', `Records have keys, so a key schema is needed: send key_schema_id or key_schema with ${format}.`, { extensions: { field: 'key' } });
  if ((body.value_schema ?? body.value_schema_id ?? undefined) === undefined) {
    throw new GatewayError('GW_ERR_SCHEMA_MISSING', `A value schema is needed: send value_schema_id or value_schema with ${format}.`, { extensions: { field: 'value' } });
  }
  const choices: SchemaChoices = {
    key: { id: body.key_schema_id ?? undefined, schema: body.key_schema ?? undefined },
    value: { id: body.value_schema_id ?? undefined, schema: body.value_schema ?? undefined },
    names: V2_NAMES,
    strategy,
  };
  // Keys without a schema (every key null) take none.
  return resolveSchemas(source, topic, { key: keyNamed ? format : 'binary', value: format, stringKeysAsText: false }, keyNamed ? choices : { ...choices, key: undefined });
}

/** Failures of the send itself: Confluent reports these per record, inside a 200. */
const PER_RECORD: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['GW_ERR_RECORD_TOO_LARGE', 'GW_ERR_KAFKA_UNAVAILABLE', 'GW_ERR_INTERNAL']);

type Body = OperationInput<'confluentProduce'>['body'];

/** POST /topics/{topic} and /topics/{topic}/partitions/{partition}. */
export function confluentProduceHandlers({ pipeline, logger, schemaSource, subjectStrategy }: ConfluentRouteDeps): Pick<Handlers, 'confluentProduce' | 'confluentProduceToPartition'> {
  const produce = async (topic: string, partition: number | undefined, mediaType: string | undefined, body: Body, res: Response) => {
    pipeline.checkTopic(topic);
    const registry = mediaType === undefined ? undefined : REGISTRY_EMBEDDED[mediaType];
    const format: DataFormat = mediaType !== undefined && JSON_EMBEDDED.has(mediaType) ? 'json' : 'binary';
    const formats: Formats = registry ? await registryFormats(schemaSource, subjectStrategy, topic, registry, body) : { key: format, value: format, stringKeysAsText: false };
    const errors: FieldError[] = [];
    const decoded = body.records.map(({ partition: own, ...input }, index) =>
      // A record on the partition route goes to that partition whatever it names, as in Confluent; `null` names none.
      decodeRecord({ ...input, ...(partition !== undefined ? { partition } : own === null || own === undefined ? {} : { partition: own }) }, index, formats, errors),
    );
    if (errors.length > 0 && errors.every((e) => misfits(e, formats))) throw new GatewayError('GW_ERR_SCHEMA_MISMATCH', `Conversion of JSON to ${registry ?? format} failed.`, { errors });
    if (errors.length > 0) throw new GatewayError('GW_ERR_VALIDATION', 'The request is not valid.', { errors });
    const schemaIds = { key_schema_id: formats.keyConverter?.schemaId ?? null, value_schema_id: formats.valueConverter?.schemaId ?? null };
    const records = decoded as DecodedRecord[];
    try {
      const produced = await pipeline.send(await pipeline.check(topic, records));
      send(res, 200, {
        offsets: produced.map(({ partition: p, offset }) => ({ partition: p, offset: Number(offset), error_code: null, error: null })),
        ...schemaIds,
      });
    } catch (error) {
      const gatewayError = toGatewayError(error);
      if (!PER_RECORD.has(gatewayError.code)) throw error;
      if (gatewayError.status >= 500) logger.warn({ err: gatewayError.cause ?? gatewayError }, gatewayError.detail);
      // Confluent: 1 for a failure that a retry will not fix, 2 for one it may.
      const errorCode = gatewayError.retriable ? 2 : 1;
      send(res, 200, {
        offsets: records.map(() => ({ partition: null, offset: null, error_code: errorCode, error: gatewayError.detail })),
        ...schemaIds,
      });
    }
  };
  return {
    confluentProduce: ({ path, mediaType, body, res }) => produce(path.topic, undefined, mediaType, body, res),
    confluentProduceToPartition: ({ path, mediaType, body, res }) => produce(path.topic, path.partition, mediaType, body, res),
  };
}
