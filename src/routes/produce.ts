import { Router, type Request } from 'express';
import { GatewayError, type FieldError } from '../errors.js';
import type { ProducedRecord } from '../kafka/index.js';
import {
  checkProduceTopic,
  checkSchema,
  decodeRecord,
  parseFormat,
  produceChecked,
  schemasLoaded,
  type DecodedRecord,
  type Formats,
  type ProduceDeps,
} from '../records/index.js';

export interface ProduceRouteDeps extends ProduceDeps {
  readonly bodyLimitBytes: number;
}

/** A JSON produce body, as openapi.yaml has already checked it. */
interface ProduceBody {
  readonly records: readonly unknown[];
  readonly keyFormat?: string;
  readonly valueFormat?: string;
}
// Without a schema, NDJSON records go to Kafka in chunks of about this many bytes as they are read.
const NDJSON_CHUNK_BYTES = 256 * 1024;

function answer(topic: string, produced: readonly ProducedRecord[]) {
  return { topic, offsets: produced.map(({ partition, offset, timestamp }) => ({ partition, offset, timestamp })) };
}

/** Formats from the query string, and from the JSON body when given there too (they must agree). */
function formatsOf(req: Request, body: ProduceBody | undefined, errors: FieldError[]): Formats {
  const pick = (name: 'keyFormat' | 'valueFormat') => {
    const fromQuery = req.query[name];
    const fromBody = body?.[name];
    if (fromQuery !== undefined && fromBody !== undefined && fromQuery !== fromBody) {
      errors.push({ pointer: `/${name}`, message: `${name} is ${JSON.stringify(fromBody)} in the body but ${JSON.stringify(fromQuery)} in the query` });
    }
    return parseFormat(fromBody ?? fromQuery, `/${name}`, errors);
  };
  return { key: pick('keyFormat'), value: pick('valueFormat') };
}

function invalid(errors: FieldError[], what: string): GatewayError {
  return new GatewayError('GW_ERR_VALIDATION', `${what}; nothing was produced.`, { errors });
}

/** Prefixes record-relative pointers with the record's place in a JSON body. */
function inBody(errors: readonly FieldError[]): FieldError[] {
  return errors.map((e) => (e.index === undefined ? e : { ...e, pointer: `/records/${e.index}${e.pointer}` }));
}

/** Splits a request stream into lines without holding more than one line (bounded by `maxLineBytes`). */
async function* lines(req: Request, maxLineBytes: number): AsyncGenerator<{ line: string; bytes: number }> {
  let carry = '';
  for await (const chunk of req as AsyncIterable<Buffer>) {
    const text = carry + chunk.toString('utf8');
    const parts = text.split('\n');
    carry = parts.pop() ?? '';
    for (const line of parts) yield { line, bytes: Buffer.byteLength(line) + 1 };
    if (Buffer.byteLength(carry) > maxLineBytes) {
      throw new GatewayError('GW_ERR_PAYLOAD_TOO_LARGE', `An NDJSON line is longer than the limit of ${maxLineBytes} bytes.`, { extensions: { limitBytes: maxLineBytes } });
    }
  }
  if (carry.trim() !== '') yield { line: carry, bytes: Buffer.byteLength(carry) };
}

/**
 * NDJSON: one record per line, read as a stream. A topic with a schema keeps
 * the all-or-nothing rule: every line is decoded and validated before
 * anything is sent, so that request is bounded by BODY_LIMIT. A topic without
 * a schema is produced in chunks as the body is read, with no bound on the
 * whole body; a bad line stops the request, and the answer says how many
 * records before it were already produced.
 */
async function produceNdjson(deps: ProduceRouteDeps, req: Request, topic: string): Promise<ReturnType<typeof answer>> {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    throw new GatewayError('GW_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding} is not supported for NDJSON bodies.`);
  }
  const formatErrors: FieldError[] = [];
  const formats = formatsOf(req, undefined, formatErrors);
  if (formatErrors.length > 0) throw invalid(formatErrors, 'The formats are not valid');
  await schemasLoaded(deps);
  // Refuse an unknown topic before reading the body.
  await deps.produce.check(topic, []);
  const whole = deps.schemas.has(topic);

  const produced: ProducedRecord[] = [];
  let chunk: DecodedRecord[] = [];
  let chunkBytes = 0;
  let total = 0;
  let index = 0;
  const errors: FieldError[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    const records = chunk.map((r) => r.record);
    chunk = [];
    chunkBytes = 0;
    try {
      produced.push(...(await deps.produce.send(topic, records)));
    } catch (error) {
      // Indexes from the service count within the chunk; the client counts records in the body.
      if (error instanceof GatewayError && error.errors) {
        const skipped = produced.length;
        throw new GatewayError(error.code, `${error.detail} ${skipped} record(s) before this chunk were already produced.`, {
          errors: error.errors.map((e) => ({ ...e, index: (e.index ?? 0) + skipped })),
          extensions: { ...error.extensions, offsets: answer(topic, produced).offsets },
        });
      }
      throw error;
    }
  };

  for await (const { line, bytes } of lines(req, deps.bodyLimitBytes)) {
    total += bytes;
    if (whole && total > deps.bodyLimitBytes) {
      throw new GatewayError('GW_ERR_PAYLOAD_TOO_LARGE', `The topic has a schema, so the whole NDJSON body is validated before sending, and it is larger than the limit of ${deps.bodyLimitBytes} bytes.`, {
        extensions: { limitBytes: deps.bodyLimitBytes },
      });
    }
    if (line.trim() === '') continue;
    let decoded: DecodedRecord | undefined;
    try {
      decoded = decodeRecord(JSON.parse(line), index, formats, errors);
    } catch (error) {
      errors.push({ index, pointer: '', message: `record ${index + 1} is not valid JSON: ${(error as Error).message}` });
    }
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
  if (whole) {
    checkSchema(deps, topic, chunk);
    await deps.produce.check(topic, chunk.map((r) => r.record));
  }
  await flush();
  return answer(topic, produced);
}

/** POST /v1/topics/{topic}/records: JSON batches and NDJSON streams. */
export function produceRouter(deps: ProduceRouteDeps): Router {
  const router = Router();
  // A JSON body arrives parsed and checked against openapi.yaml (checkRequestBody);
  // an NDJSON body arrives unread, and is read here line by line.
  router.post('/v1/topics/:topic/records', async (req, res) => {
    const topic = req.params.topic;
    checkProduceTopic(topic);
    if (req.is('application/x-ndjson')) {
      res.json(await produceNdjson(deps, req, topic));
      return;
    }
    const body = req.body as ProduceBody;
    const errors: FieldError[] = [];
    const formats = formatsOf(req, body, errors);
    if (errors.length > 0) throw invalid(errors, 'The request body is not valid');
    const records = body.records.map((r, i) => decodeRecord(r, i, formats, errors));
    if (errors.length > 0) throw invalid(inBody(errors.slice(0, 100)), `${new Set(errors.map((e) => e.index)).size} record(s) are not valid`);
    try {
      res.json(answer(topic, await produceChecked(deps, topic, records as DecodedRecord[])));
    } catch (error) {
      if (error instanceof GatewayError && error.errors) {
        throw new GatewayError(error.code, error.detail, { errors: inBody(error.errors), extensions: error.extensions, retryAfterSeconds: error.retryAfterSeconds, cause: error.cause });
      }
      throw error;
    }
  });
  return router;
}
