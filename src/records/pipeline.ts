/**
 * The one record pipeline. Every transport (JSON and NDJSON bodies,
 * Confluent v2, WebSocket `produce` frames) decodes its records with
 * decodeRecord and hands them here: topic rules, the broker's per-record
 * rules (partition, size, timestamp window), the topic's JSON Schema, then
 * one send. Errors point into the batch (`/records/<index>/...`) the same way
 * whichever transport the records came by; each transport only chooses how
 * to write the error down.
 */
import { withDeadline, GatewayError, type FieldError, checkTopicName, isInternalTopic, type Metrics } from '../common/index.js';
import { type CheckedBatch, type ProduceService, type ProducedRecord } from '../kafka/index.js';
import type { SchemaRegistry } from '../schema/index.js';
import { decodeBase64All } from './key-filter.js';
import { decodeRecord, recordPointer, type DecodedRecord, type Formats } from './to-kafka.js';

export interface PipelineDeps {
  readonly produce: ProduceService;
  readonly schemas: SchemaRegistry;
  /** How long to wait for the schemas to load after start before answering 503. */
  readonly timeoutMs: number;
  readonly metrics: Metrics;
}

/** What a produce request is answered with, over HTTP and WebSocket alike. */
export interface ProduceAnswer {
  readonly topic: string;
  readonly offsets: Array<Pick<ProducedRecord, 'partition' | 'offset' | 'timestamp'>>;
}

// One request may hold thousands of bad records; the answer lists the first ones.
const MAX_REPORTED_ERRORS = 100;

/** Record errors whose pointers are relative to one record, placed into the batch; `firstIndex` counts records sent before. */
function intoBatch(errors: readonly FieldError[], firstIndex: number): FieldError[] {
  return errors.map((e) => {
    const index = (e.index ?? 0) + firstIndex;
    return { ...e, index, pointer: recordPointer(index, e.pointer) };
  });
}

function rethrownIntoBatch(error: unknown, firstIndex: number): unknown {
  if (!(error instanceof GatewayError) || !error.errors) return error;
  return new GatewayError(error.code, error.detail, {
    errors: intoBatch(error.errors, firstIndex),
    extensions: error.extensions,
    retryAfterSeconds: error.retryAfterSeconds,
    cause: error.cause,
  });
}

/** Whether a record error is a key or value that does not fit the registry schema its request named. */
export function misfits(error: FieldError, formats: Formats): boolean {
  const field = /^\/records\/\d+\/(key|value)(\/|$)/.exec(error.pointer)?.[1];
  return field === 'key' ? formats.keyConverter !== undefined : field === 'value' ? formats.valueConverter !== undefined : false;
}

export function answer(topic: string, produced: readonly ProducedRecord[]): ProduceAnswer {
  return { topic, offsets: produced.map(({ partition, offset, timestamp }) => ({ partition, offset, timestamp })) };
}

export class RecordPipeline {
  constructor(private readonly deps: PipelineDeps) {}

  /**
   * Refuses a topic name that is invalid or internal, before any body is
   * read. Each transport calls it once, first; check() and send() take the
   * name as checked.
   */
  checkTopic(topic: string): void {
    checkTopicName(topic);
    if (isInternalTopic(topic)) {
      throw new GatewayError('GW_ERR_FORBIDDEN', `Topic ${JSON.stringify(topic)} is internal and cannot be written through the gateway.`);
    }
  }

  /** The topic (its name already through checkTopic) exists, or is created when auto-creation is on; throws 404 otherwise. */
  async requireTopic(topic: string): Promise<void> {
    await this.deps.produce.check(topic, []);
  }

  /** Whether every value is validated before anything is sent (the topic has a JSON Schema); waits for the schemas to load. */
  async hasSchema(topic: string): Promise<boolean> {
    await this.#schemasLoaded();
    return this.deps.schemas.has(topic);
  }

  /**
   * Decodes a batch (`validated`, `rawValues`: as decodeRecord); throws 400
   * listing every bad record (none is produced). Binary values are decoded
   * here for the whole batch, into one buffer.
   */
  decode(inputs: readonly unknown[], formats: Formats, validated = false, rawValues?: ReadonlyArray<Buffer | undefined>): DecodedRecord[] {
    if (rawValues === undefined && formats.value === 'binary' && formats.valueConverter === undefined) {
      rawValues = decodeBase64All(inputs.map((input) => (typeof input === 'object' && input !== null ? (input as { value?: unknown }).value : undefined)));
    }
    const errors: FieldError[] = [];
    const records = inputs.map((input, index) => decodeRecord(input, index, formats, errors, validated, rawValues?.[index]));
    if (errors.length > 0) {
      if (errors.every((e) => misfits(e, formats))) {
        throw new GatewayError('GW_ERR_SCHEMA_MISMATCH', `${new Set(errors.map((e) => e.index)).size} record(s) do not fit their schema; nothing was produced.`, {
          errors: errors.slice(0, MAX_REPORTED_ERRORS),
        });
      }
      throw new GatewayError('GW_ERR_VALIDATION', `${new Set(errors.map((e) => e.index)).size} record(s) are not valid; nothing was produced.`, {
        errors: errors.slice(0, MAX_REPORTED_ERRORS),
      });
    }
    return records as DecodedRecord[];
  }

  /**
   * Every check a record must pass before it may share a batch with other
   * callers' records: the topic exists, the partition is in range, the
   * record fits the topic's size limit and timestamp window, and the value
   * matches the topic's schema. Nothing is sent; throws the error the client
   * should see, or answers the checked batch for send(). `firstIndex` is the
   * position of `records[0]` in the request. The topic name has been through
   * checkTopic.
   */
  async check(topic: string, records: readonly DecodedRecord[], firstIndex = 0): Promise<CheckedBatch> {
    await this.#schemasLoaded();
    let checked: CheckedBatch;
    try {
      checked = await this.deps.produce.check(topic, records.map((r) => r.record));
    } catch (error) {
      throw rethrownIntoBatch(error, firstIndex);
    }
    if (!this.deps.schemas.has(topic)) return checked;
    const errors = this.deps.schemas.validate(topic, records.map((r) => r.jsonValue()));
    if (errors.length > 0) {
      throw new GatewayError('GW_ERR_SCHEMA_VIOLATION', `${new Set(errors.map((e) => e.index)).size} record(s) do not match the schema of topic ${JSON.stringify(topic)}; nothing was produced.`, {
        errors: intoBatch(errors, firstIndex),
      });
    }
    return checked;
  }

  /** Sends what check() answered, without checking again; answers where each record landed, in order, and counts them. */
  async send(checked: CheckedBatch, firstIndex = 0): Promise<ProducedRecord[]> {
    const { topic, records: outgoing } = checked;
    let produced: ProducedRecord[];
    try {
      produced = await this.deps.produce.send(checked);
    } catch (error) {
      throw rethrownIntoBatch(error, firstIndex);
    }
    this.deps.metrics.producedRecords.inc({ topic }, produced.length);
    this.deps.metrics.producedBytes.inc({ topic }, outgoing.reduce((sum, r) => sum + (r.key?.length ?? 0) + (r.value?.length ?? 0), 0));
    return produced;
  }

  /**
   * A whole batch as a JSON body or a WebSocket frame carries it: decode,
   * check, send. `contract`: the HTTP contract has checked the body, so the
   * caller has already run checkTopic and every record matches the record
   * schema; neither is done again. A WebSocket frame's records are checked
   * here. `rawValues`: per input, its JSON value's bytes as the body carried
   * them (rawRecordValues), where they are what serializing it would write.
   */
  async produceBatch(
    topic: string,
    inputs: readonly unknown[],
    formats: Formats,
    { contract = false, rawValues }: { contract?: boolean; rawValues?: ReadonlyArray<Buffer | undefined> } = {},
  ): Promise<ProduceAnswer> {
    if (!contract) this.checkTopic(topic);
    if (inputs.length === 0) throw new GatewayError('GW_ERR_VALIDATION', 'The batch is empty: send at least one record.');
    const records = this.decode(inputs, formats, contract, rawValues?.length === inputs.length ? rawValues : undefined);
    return answer(topic, await this.send(await this.check(topic, records)));
  }

  /** Waits (bounded) until the schemas stored before start are loaded, so no record slips past a schema after a restart. */
  schemasLoaded(): Promise<void> {
    return this.#schemasLoaded();
  }

  async #schemasLoaded(): Promise<void> {
    await withDeadline(this.deps.schemas.ready(), this.deps.timeoutMs, () => {
      throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', 'The topic schemas are not loaded from Kafka yet; retry shortly.', { retryAfterSeconds: 1 });
    });
  }
}
