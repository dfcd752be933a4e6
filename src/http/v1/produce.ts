/**
 * POST /v1/topics/{topic}/records: a JSON batch, or NDJSON read as a
 * stream. Both hand their records to the one record pipeline
 * (src/records); this file only reads the body and writes the answer.
 */
import type { Request, Response } from 'express';
import { GatewayError, JsonTextError, parseJsonText, type FieldError } from '../../common/index.js';
import type { ProducedRecord } from '../../kafka/index.js';
import { answer, decodeRecord, needsSchemas, rawRecordValues, recordPointer, resolveSchemas, type DecodedRecord, type Formats, type ProduceAnswer, type RecordPipeline, type SchemaChoices } from '../../records/index.js';
import type { SchemaSource } from '../../schema/index.js';
import type { SubjectStrategy } from '../../config.js';
import { rawJsonBody, type Handlers, type OperationInput } from '../contract.js';

export interface ProduceRouteDeps {
  readonly pipeline: RecordPipeline;
  readonly bodyLimitBytes: number;
  /** Where the schemas of the registry formats come from. */
  readonly schemaSource: SchemaSource;
  readonly subjectStrategy?: SubjectStrategy;
}

type JsonBody = Exclude<OperationInput<'produceRecords'>['body'], string>;
type ProduceQuery = OperationInput<'produceRecords'>['query'];

// Without a schema, NDJSON records go to Kafka in chunks of about this many bytes as they are read.
const NDJSON_CHUNK_BYTES = 256 * 1024;

/** Formats from the query string, and from the JSON body when given there too (they must agree). */
function formatsOf(query: ProduceQuery, body: JsonBody | undefined): Formats {
  const errors: FieldError[] = [];
  const pick = (name: 'keyFormat' | 'valueFormat') => {
    const fromQuery = query[name];
    const fromBody = body?.[name];
    if (fromQuery !== undefined && fromBody !== undefined && fromQuery !== fromBody) {
      errors.push({ pointer: `/${name}`, message: `${name} is ${JSON.stringify(fromBody)} in the body but ${JSON.stringify(fromQuery)} in the query` });
    }
    return fromBody ?? fromQuery ?? 'json';
  };
  const formats = { key: pick('keyFormat'), value: pick('valueFormat') };
  if (errors.length > 0) throw new GatewayError('GW_ERR_VALIDATION', 'The formats are not valid; nothing was produced.', { errors });
  return formats;
}

/** The registry schemas the query names, for keyFormat / valueFormat avro, protobuf and jsonschema. */
function choicesOf(query: ProduceQuery): SchemaChoices {
  const version = (given: string | undefined) => (given === undefined ? undefined : given === 'latest' ? 'latest' : Number(given));
  return {
    key: { id: query.keySchemaId, subject: query.keySubject, version: version(query.keySchemaVersion) },
    value: { id: query.valueSchemaId, subject: query.valueSubject, version: version(query.valueSchemaVersion) },
  };
}

/** The formats, with the converters of the registry schemas the request names. */
async function withSchemas(deps: ProduceRouteDeps, topic: string, formats: Formats, query: ProduceQuery): Promise<Formats> {
  const choices = { ...choicesOf(query), strategy: deps.subjectStrategy };
  return needsSchemas(formats, choices) ? resolveSchemas(deps.schemaSource, topic, formats, choices) : formats;
}

/**
 * Splits a request stream into lines at the newline byte, holding at most
 * one line (bounded by `maxLineBytes`). A newline byte never occurs inside
 * a multi-byte UTF-8 character, so each line is decoded whole, however the
 * body was cut into chunks.
 */
async function* lines(req: Request, maxLineBytes: number): AsyncGenerator<{ line: Buffer; bytes: number }> {
  const tooLong = () =>
    new GatewayError('GW_ERR_PAYLOAD_TOO_LARGE', `An NDJSON line is longer than the limit of ${maxLineBytes} bytes.`, { extensions: { limitBytes: maxLineBytes } });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    let start = 0;
    for (let newline = chunk.indexOf(10, start); newline !== -1; newline = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, newline);
      const line = pending.length > 0 ? Buffer.concat([...pending, piece]) : piece;
      pending = [];
      pendingBytes = 0;
      if (line.length > maxLineBytes) throw tooLong();
      yield { line, bytes: line.length + 1 };
      start = newline + 1;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > maxLineBytes) throw tooLong();
    }
  }
  if (pendingBytes > 0) yield { line: Buffer.concat(pending), bytes: pendingBytes };
}

/** One NDJSON line as a record, or its problem added to `errors`. */
function decodeLine(line: Buffer, index: number, formats: Formats, errors: FieldError[]): DecodedRecord | undefined {
  let input: unknown;
  try {
    // JSON text is UTF-8 (RFC 8259): a line that is not, or holds a lone surrogate, is refused rather than read with replacement characters.
    input = parseJsonText(line);
  } catch (error) {
    if (!(error instanceof JsonTextError)) throw error;
    errors.push({ index, pointer: `${recordPointer(index)}${error.pointer ?? ''}`, message: `record ${index + 1} ${error.message}` });
    return undefined;
  }
  return decodeRecord(input, index, formats, errors);
}

/**
 * NDJSON: one record per line, read as a stream. A topic with a schema keeps
 * the all-or-nothing rule: every line is decoded and validated before
 * anything is sent, so that request is bounded by BODY_LIMIT. A topic without
 * a schema is produced in chunks as the body is read, with no bound on the
 * whole body; a bad line stops the request, and the answer says how many
 * records before it were already produced.
 */
async function produceNdjson({ pipeline, bodyLimitBytes }: ProduceRouteDeps, req: Request, topic: string, formats: Formats): Promise<ProduceAnswer> {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    throw new GatewayError('GW_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding} is not supported for NDJSON bodies.`);
  }
  // Refuse an unknown topic before reading the body.
  await pipeline.requireTopic(topic);
  const whole = await pipeline.hasSchema(topic);

  const produced: ProducedRecord[] = [];
  let chunk: DecodedRecord[] = [];
  let chunkBytes = 0;
  let total = 0;
  let index = 0;
  const errors: FieldError[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    const records = chunk;
    const firstIndex = produced.length;
    chunk = [];
    chunkBytes = 0;
    try {
      produced.push(...(await pipeline.send(await pipeline.check(topic, records, firstIndex), firstIndex)));
    } catch (error) {
      if (error instanceof GatewayError && error.errors && produced.length > 0) {
        throw new GatewayError(error.code, `${error.detail} ${produced.length} record(s) before this chunk were already produced.`, {
          errors: error.errors,
          extensions: { ...error.extensions, offsets: answer(topic, produced).offsets },
        });
      }
      throw error;
    }
  };

  for await (const { line, bytes } of lines(req, bodyLimitBytes)) {
    total += bytes;
    if (whole && total > bodyLimitBytes) {
      throw new GatewayError('GW_ERR_PAYLOAD_TOO_LARGE', `The topic has a schema, so the whole NDJSON body is validated before sending, and it is larger than the limit of ${bodyLimitBytes} bytes.`, {
        extensions: { limitBytes: bodyLimitBytes },
      });
    }
    if (line.every((byte) => byte === 0x20 || byte === 0x09 || byte === 0x0d)) continue;
    const decoded = decodeLine(line, index, formats, errors);
    if (errors.length > 0 && (!whole || errors.length >= 100)) break;
    if (decoded) {
      chunk.push(decoded);
      chunkBytes += bytes;
    }
    index += 1;
    if (!whole && chunkBytes >= NDJSON_CHUNK_BYTES) await flush();
  }

  if (errors.length > 0) {
    const detail = produced.length > 0
      ? `A line is not a valid record; the ${produced.length} record(s) before it were already produced, nothing after.`
      : 'A line is not a valid record; nothing was produced.';
    throw new GatewayError('GW_ERR_VALIDATION', detail, { errors: errors.slice(0, 100), extensions: { offsets: answer(topic, produced).offsets } });
  }
  if (index === 0) throw new GatewayError('GW_ERR_VALIDATION', 'The batch is empty: send at least one record.');
  await flush();
  return answer(topic, produced);
}

/**
 * The answer as `res.json` writes it (the same text and headers), without
 * express's generic path through res.send (content-type negotiation, a
 * freshness check) for each request.
 */
function writeAnswer(res: Response, produced: ProduceAnswer): void {
  const text = JSON.stringify(produced);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** POST /v1/topics/{topic}/records: JSON batches and NDJSON streams. */
export function produceHandlers(deps: ProduceRouteDeps): Pick<Handlers, 'produceRecords'> {
  return {
    // A JSON body arrives parsed and checked against openapi.yaml; an NDJSON body arrives unread.
    produceRecords: async ({ path: { topic }, query, body, mediaType, req, res }) => {
      deps.pipeline.checkTopic(topic);
      if (mediaType === 'application/x-ndjson') {
        writeAnswer(res, await produceNdjson(deps, req, topic, await withSchemas(deps, topic, formatsOf(query, undefined), query)));
        return;
      }
      const json = body as JsonBody;
      const formats = await withSchemas(deps, topic, formatsOf(query, json), query);
      // JSON values go to Kafka as the body's own bytes where those are what serializing the parsed value would write.
      const raw = formats.value === 'json' ? rawJsonBody(req) : undefined;
      const rawValues = raw && rawRecordValues(raw);
      // The topic name is checked above and every record against the record schema by the contract.
      writeAnswer(res, await deps.pipeline.produceBatch(topic, json.records, formats, { contract: true, rawValues }));
    },
  };
}
