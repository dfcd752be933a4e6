/**
 * Confluent REST Proxy v2's wire conventions, shared by the v2 produce,
 * metadata and consumer routes: its media types, content negotiation, int64
 * numbers and `{error_code, message}` errors. problemHandler answers in this
 * shape for operations marked `x-error-format: confluent-v2` in
 * openapi.yaml, and for every path under v2's prefixes, unknown ones too.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { GatewayError, type ErrorCode, type FieldError, describeFieldErrors } from '../../common/index.js';

export const CONFLUENT_V2 = 'application/vnd.kafka.v2+json';

/** A gateway error as Confluent's HTTP status and error_code. */
const CODES: Partial<Record<ErrorCode, readonly [status: number, code: number]>> = {
  GW_ERR_TOPIC_NOT_FOUND: [404, 40401],
  GW_ERR_INVALID_PARTITION: [404, 40402],
  GW_ERR_CONSUMER_NOT_FOUND: [404, 40403],
  GW_ERR_NOT_ACCEPTABLE: [406, 40601],
  GW_ERR_CONSUMER_EXISTS: [409, 40902],
  GW_ERR_CONFLICT: [409, 40903],
  GW_ERR_INVALID_CONSUMER_CONFIG: [422, 42204],
  GW_ERR_INVALID_TOPIC: [400, 40002],
  GW_ERR_FORBIDDEN: [403, 40301],
  GW_ERR_UNAUTHENTICATED: [401, 40101],
  GW_ERR_MALFORMED_JSON: [400, 400],
  GW_ERR_BAD_REQUEST: [400, 400],
  GW_ERR_VALIDATION: [422, 422],
  GW_ERR_SCHEMA_VIOLATION: [422, 42206],
  GW_ERR_SCHEMA_MISMATCH: [422, 42203],
  GW_ERR_INVALID_SCHEMA: [422, 42205],
  GW_ERR_SUBJECT_NOT_FOUND: [404, 40401],
  GW_ERR_VERSION_NOT_FOUND: [404, 40402],
  GW_ERR_SCHEMA_NOT_FOUND: [404, 40403],
  GW_ERR_INCOMPATIBLE_SCHEMA: [409, 40901],
  GW_ERR_REGISTRY_UNAVAILABLE: [503, 50003],
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
  // Said already: the pointer and message together, or (as parameter errors put it) the field's name with the message.
  const unsaid = (errors ?? []).filter((e) => !detail.includes(`${e.pointer} ${e.message}`) && !detail.includes(`${e.pointer.split('/').pop() ?? ''} ${e.message}`));
  return unsaid.length === 0 ? detail : `${detail} ${describeFieldErrors(unsaid)}.`;
}

/**
 * JSON with bigint values written as JSON numbers, digit for digit: v2
 * answers offsets as numbers, and a double would round those above 2^53.
 */
export function v2Json(body: unknown): string {
  const marked = new Map<string, string>();
  const text = JSON.stringify(body, (_key, value: unknown) => {
    if (typeof value !== 'bigint') return value;
    const mark = `\u0000int64:${marked.size}\u0000`;
    marked.set(mark, value.toString());
    return mark;
  });
  return marked.size === 0 ? text : text.replace(/"\\u0000int64:\d+\\u0000"/g, (quoted) => marked.get(JSON.parse(quoted) as string) ?? quoted);
}

export function sendV2(res: Response, status: number, body: unknown, mediaType = CONFLUENT_V2): void {
  res.status(status).type(mediaType).send(v2Json(body));
}

/** Paths a Confluent client may call: every error under them, unknown paths included, is in v2's shape. */
export function isV2Path(path: string): boolean {
  return /^\/(topics|consumers|brokers)(\/|$)/.test(path);
}

interface MediaRange {
  readonly type: string;
  readonly q: number;
}

function mediaRanges(accept: string | undefined): MediaRange[] | undefined {
  if (accept === undefined || accept.trim() === '') return undefined;
  return accept.split(',').map((part) => {
    const [type = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return { type, q: q === undefined ? 1 : Number(q.slice(2)) };
  });
}

/** How specifically a media range names a type: 2 exactly, 1 by its top-level type (application/star), 0 as star/star; -1 not at all. */
function specificity(range: string, type: string): number {
  if (range === type) return 2;
  if (range === '*/*') return 0;
  return range.endsWith('/*') && type.startsWith(range.slice(0, -1)) ? 1 : -1;
}

/**
 * Of `offered` (in the server's order of preference), the type the request's
 * Accept takes with the highest quality, or undefined when it takes none.
 * Without Accept, the first. Each type's quality comes from the most
 * specific range that names it (RFC 9110 section 12.5.1): a wildcard with
 * a low q still takes JSON, and `application/x;q=0` refuses x.
 */
export function negotiate(accept: string | undefined, offered: readonly string[]): string | undefined {
  const ranges = mediaRanges(accept);
  if (!ranges) return offered[0];
  let best: { type: string; q: number } | undefined;
  for (const type of offered) {
    let chosen: MediaRange | undefined;
    let chosenSpecificity = -1;
    for (const range of ranges) {
      const level = specificity(range.type, type);
      if (level > chosenSpecificity) {
        chosen = range;
        chosenSpecificity = level;
      }
    }
    if (!chosen || !(chosen.q > 0)) continue;
    if (!best || chosen.q > best.q) best = { type, q: chosen.q };
  }
  return best?.type;
}

/**
 * What a v2 answer without embedded data may be sent as: Confluent's v2
 * media type, and the generic forms its older clients ask for (the v1 type
 * `kafka-rest` sends, `application/vnd.kafka+json`, `application/json`);
 * all get the v2 body, labelled as v2.
 */
const V2_ANSWERS = [CONFLUENT_V2, 'application/vnd.kafka.v1+json', 'application/vnd.kafka+json', 'application/json'];

/** Refuses, with 406, a v2 request whose Accept takes nothing v2 answers with. Record reads negotiate on their own. */
export function checkV2Accept(operationOf: (res: Response) => { operation: { errorFormat: string; operationId: string } } | undefined): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const operation = operationOf(res)?.operation;
    if (operation?.errorFormat !== 'confluent-v2' || operation.operationId === 'v2ReadRecords') {
      next();
      return;
    }
    if (negotiate(req.headers.accept, V2_ANSWERS) === undefined) throw notAcceptable(req.headers.accept, V2_ANSWERS);
    next();
  };
}

export function notAcceptable(accept: string | undefined, offered: readonly string[]): GatewayError {
  return new GatewayError('GW_ERR_NOT_ACCEPTABLE', `Accept: ${accept ?? ''} takes nothing this operation answers with; accept one of: ${offered.join(', ')}.`);
}

/** An error in Confluent's shape, so v2 clients parse it unchanged; field errors are folded into the message. */
/** Confluent's HTTP status and error_code for a gateway error. */
export function confluentCodes(error: Pick<GatewayError, 'code' | 'status' | 'extensions'>): readonly [status: number, code: number] {
  // Confluent's two codes for a registry format's missing schema: 42201 the key's, 42202 the value's.
  if (error.code === 'GW_ERR_SCHEMA_MISSING') return [422, error.extensions?.field === 'key' ? 42201 : 42202];
  return CODES[error.code] ?? [error.status, error.status];
}

export function sendV2Error(res: Response, error: GatewayError): void {
  const [status, code] = confluentCodes(error);
  if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
  sendV2(res, status, { error_code: code, message: withErrors(error.detail, error.errors) });
}
