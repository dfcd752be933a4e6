import { GatewayError, type FieldError } from '../errors.js';
import { isInternalTopic } from '../internal-names.js';
import { isValidTopicName, type ProduceService, type ProducedRecord } from '../kafka/index.js';
import type { SchemaRegistry } from '../schema/index.js';
import { decodeRecord, parseFormat, type DecodedRecord } from './decode.js';

export interface ProduceDeps {
  readonly produce: ProduceService;
  readonly schemas: SchemaRegistry;
  /** How long to wait for the schemas to load after start before answering 503. */
  readonly timeoutMs: number;
}

export { isInternalTopic };

/** Refuses a topic name that is invalid or internal, before any body is read. */
export function checkProduceTopic(topic: string): void {
  if (!isValidTopicName(topic)) {
    throw new GatewayError('GW_ERR_INVALID_TOPIC', `Topic name ${JSON.stringify(topic)} is not valid: use 1 to 249 of a-z, A-Z, 0-9, '.', '_' and '-'.`);
  }
  if (isInternalTopic(topic)) {
    throw new GatewayError('GW_ERR_FORBIDDEN', `Topic ${JSON.stringify(topic)} is internal and cannot be written through the gateway.`);
  }
}

/** Waits (bounded) until the schemas stored before start are loaded, so no record slips past a schema after a restart. */
export async function schemasLoaded(deps: ProduceDeps): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      deps.schemas.ready(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', 'The topic schemas are not loaded from Kafka yet; retry shortly.', { retryAfterSeconds: 1 })), deps.timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Validates values against the topic's schema; throws 422 listing every failure (pointers relative to the record). */
export function checkSchema(deps: ProduceDeps, topic: string, records: readonly DecodedRecord[], offset = 0): void {
  if (!deps.schemas.has(topic)) return;
  const errors: FieldError[] = deps.schemas
    .validate(topic, records.map((r) => r.jsonValue()))
    .map((e) => ({ ...e, index: (e.index ?? 0) + offset }));
  if (errors.length > 0) {
    throw new GatewayError('GW_ERR_SCHEMA_VIOLATION', `${new Set(errors.map((e) => e.index)).size} record(s) do not match the schema of topic ${JSON.stringify(topic)}; nothing was produced.`, { errors });
  }
}

/**
 * The whole produce path for decoded records: topic checks, schema
 * validation of every value before anything is sent, then one send. Any
 * failure throws the GatewayError a client should see; nothing is produced
 * when a check fails.
 */
export async function produceChecked(deps: ProduceDeps, topic: string, records: readonly DecodedRecord[]): Promise<ProducedRecord[]> {
  checkProduceTopic(topic);
  if (records.length === 0) throw new GatewayError('GW_ERR_VALIDATION', 'The batch is empty: send at least one record.');
  await schemasLoaded(deps);
  const outgoing = records.map((r) => r.record);
  await deps.produce.check(topic, outgoing);
  checkSchema(deps, topic, records);
  return deps.produce.send(topic, outgoing);
}

/**
 * A batch as a WebSocket `produce` frame carries it: the same record shapes,
 * formats and checks as the JSON body of POST /v1/topics/{topic}/records,
 * with pointers into `/records/<index>` as the HTTP answer gives them.
 */
export async function produceBatch(
  deps: ProduceDeps,
  topic: string,
  inputs: readonly unknown[],
  formats: { keyFormat?: unknown; valueFormat?: unknown } = {},
): Promise<{ topic: string; offsets: Array<Pick<ProducedRecord, 'partition' | 'offset' | 'timestamp'>> }> {
  const errors: FieldError[] = [];
  const parsed = { key: parseFormat(formats.keyFormat, '/keyFormat', errors), value: parseFormat(formats.valueFormat, '/valueFormat', errors) };
  const records = inputs.map((input, index) => decodeRecord(input, index, parsed, errors));
  const inRecords = (list: readonly FieldError[]) => list.map((e) => (e.index === undefined ? e : { ...e, pointer: `/records/${e.index}${e.pointer}` }));
  if (errors.length > 0) {
    throw new GatewayError('GW_ERR_VALIDATION', `${new Set(errors.map((e) => e.index)).size} record(s) are not valid; nothing was produced.`, {
      errors: inRecords(errors.slice(0, 100)),
    });
  }
  try {
    const produced = await produceChecked(deps, topic, records as DecodedRecord[]);
    return { topic, offsets: produced.map(({ partition, offset, timestamp }) => ({ partition, offset, timestamp })) };
  } catch (error) {
    if (error instanceof GatewayError && error.errors) {
      throw new GatewayError(error.code, error.detail, { errors: inRecords(error.errors), extensions: error.extensions, retryAfterSeconds: error.retryAfterSeconds, cause: error.cause });
    }
    throw error;
  }
}
