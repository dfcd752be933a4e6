/**
 * Every error the gateway can answer with, listed once: its HTTP status,
 * RFC 9457 problem type and title, the WebSocket close code where one
 * applies, and whether retrying the same request can help. Handlers throw a
 * GatewayError; the HTTP edge turns it into problem+json and the WebSocket
 * edge into an error frame, each through one function below.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_BASE = 'https://kafka-gateway.dev/problems/';

interface ErrorSpec {
  readonly status: number;
  readonly title: string;
  readonly retriable: boolean;
  /**
   * How a WebSocket closes when this error ends it (RFC 6455 codes, and
   * 4401/4403 mirroring HTTP): the client's own mistakes are 1003, 1007,
   * 1008 or 1009, never 1011, which says the gateway failed.
   */
  readonly wsCloseCode: number;
}

// RFC 6455 section 7.4.1: 1008 is the generic "the peer broke a rule".
const POLICY = 1008;

export const ERRORS = {
  GW_ERR_BAD_REQUEST: { status: 400, title: 'Bad request', retriable: false, wsCloseCode: POLICY },
  GW_ERR_MALFORMED_JSON: { status: 400, title: 'Malformed JSON', retriable: false, wsCloseCode: 1007 },
  GW_ERR_VALIDATION: { status: 400, title: 'Invalid request', retriable: false, wsCloseCode: POLICY },
  GW_ERR_INVALID_TOPIC: { status: 400, title: 'Invalid topic name', retriable: false, wsCloseCode: POLICY },
  GW_ERR_INVALID_PARTITION: { status: 400, title: 'Partition out of range', retriable: false, wsCloseCode: POLICY },
  GW_ERR_INVALID_SCHEMA: { status: 400, title: 'Invalid JSON Schema', retriable: false, wsCloseCode: POLICY },
  GW_ERR_UNAUTHENTICATED: { status: 401, title: 'Authentication required', retriable: false, wsCloseCode: 4401 },
  GW_ERR_FORBIDDEN: { status: 403, title: 'Forbidden', retriable: false, wsCloseCode: 4403 },
  GW_ERR_NOT_FOUND: { status: 404, title: 'Not found', retriable: false, wsCloseCode: POLICY },
  GW_ERR_TOPIC_NOT_FOUND: { status: 404, title: 'Topic not found', retriable: false, wsCloseCode: POLICY },
  GW_ERR_GROUP_NOT_FOUND: { status: 404, title: 'Consumer group not found', retriable: false, wsCloseCode: POLICY },
  GW_ERR_CONSUMER_NOT_FOUND: { status: 404, title: 'Consumer instance not found', retriable: false, wsCloseCode: POLICY },
  GW_ERR_SCHEMA_NOT_FOUND: { status: 404, title: 'Schema not found', retriable: false, wsCloseCode: POLICY },
  GW_ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed', retriable: false, wsCloseCode: POLICY },
  GW_ERR_REQUEST_TIMEOUT: { status: 408, title: 'Request timeout', retriable: true, wsCloseCode: POLICY },
  GW_ERR_NOT_ACCEPTABLE: { status: 406, title: 'Not acceptable', retriable: false, wsCloseCode: POLICY },
  GW_ERR_CONFLICT: { status: 409, title: 'Conflict', retriable: false, wsCloseCode: POLICY },
  GW_ERR_CONSUMER_EXISTS: { status: 409, title: 'Consumer instance exists', retriable: false, wsCloseCode: POLICY },
  GW_ERR_INVALID_CONSUMER_CONFIG: { status: 422, title: 'Invalid consumer configuration', retriable: false, wsCloseCode: POLICY },
  GW_ERR_MISDIRECTED: { status: 421, title: 'Host not served here', retriable: false, wsCloseCode: POLICY },
  GW_ERR_PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large', retriable: false, wsCloseCode: 1009 },
  GW_ERR_RECORD_TOO_LARGE: { status: 413, title: 'Record too large', retriable: false, wsCloseCode: 1009 },
  GW_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', retriable: false, wsCloseCode: 1003 },
  GW_ERR_RANGE_NOT_SATISFIABLE: { status: 416, title: 'Offset outside the log', retriable: false, wsCloseCode: POLICY },
  GW_ERR_UPGRADE_REQUIRED: { status: 426, title: 'Upgrade required', retriable: false, wsCloseCode: POLICY },
  GW_ERR_HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large', retriable: false, wsCloseCode: 1009 },
  GW_ERR_SCHEMA_VIOLATION: { status: 422, title: 'Records do not match the topic schema', retriable: false, wsCloseCode: POLICY },
  GW_ERR_TOO_MANY_REQUESTS: { status: 429, title: 'Too many requests', retriable: true, wsCloseCode: 1013 },
  GW_ERR_INTERNAL: { status: 500, title: 'Internal server error', retriable: false, wsCloseCode: 1011 },
  GW_ERR_KAFKA_UNAVAILABLE: { status: 503, title: 'Kafka unavailable', retriable: true, wsCloseCode: 1013 },
  GW_ERR_OVERLOADED: { status: 503, title: 'Gateway overloaded', retriable: true, wsCloseCode: 1013 },
  GW_ERR_SHUTTING_DOWN: { status: 503, title: 'Gateway shutting down', retriable: true, wsCloseCode: 1001 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** One failed check in a request: where (JSON Pointer, record index) and why. */
export interface FieldError {
  readonly pointer: string;
  readonly message: string;
  readonly index?: number;
}

export interface GatewayErrorOptions {
  readonly errors?: readonly FieldError[];
  /** Seconds after which a retry may succeed; sent as Retry-After. */
  readonly retryAfterSeconds?: number;
  readonly cause?: unknown;
  /** Extra problem members, e.g. the broker's limit for an oversized record. */
  readonly extensions?: Readonly<Record<string, unknown>>;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly title: string;
  readonly retriable: boolean;
  readonly wsCloseCode: number;
  readonly errors?: readonly FieldError[];
  readonly retryAfterSeconds?: number;
  readonly extensions?: Readonly<Record<string, unknown>>;

  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    options: GatewayErrorOptions = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    const spec: ErrorSpec = ERRORS[code];
    this.name = 'GatewayError';
    this.status = spec.status;
    this.title = spec.title;
    this.retriable = spec.retriable;
    this.wsCloseCode = spec.wsCloseCode;
    this.errors = options.errors;
    this.retryAfterSeconds = options.retryAfterSeconds ?? (spec.retriable ? 1 : undefined);
    this.extensions = options.extensions;
  }
}

export function isGatewayError(error: unknown): error is GatewayError {
  return error instanceof GatewayError;
}

/** RFC 9457 problem details, with our `code` and field `errors` as extensions. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: ErrorCode;
  readonly instance?: string;
  readonly errors?: readonly FieldError[];
  readonly [extension: string]: unknown;
}

/**
 * Any thrown value as a GatewayError. Unknown errors become a bare 500 so
 * that no stack, message or internal detail reaches a client; the caller
 * logs the original.
 */
type FailureReader = (error: unknown) => GatewayError | undefined;
let readFailure: FailureReader | undefined;

/**
 * How a layer below names its own failures: the Kafka layer registers its
 * reading of the Kafka client's errors when it is loaded, since nothing
 * here may know that client. So a failure of Kafka that reaches an edge
 * unconverted (an HTTP answer, a WebSocket error frame, an event stream's
 * error event) is still the 503 it is, never a 500.
 */
export function registerFailureReader(reader: FailureReader): void {
  readFailure = reader;
}

export function toGatewayError(error: unknown): GatewayError {
  if (isGatewayError(error)) return error;
  const read = readFailure?.(error);
  if (read !== undefined) return read;
  return new GatewayError('GW_ERR_INTERNAL', 'The gateway failed to handle this request; the failure is logged.', {
    cause: error,
  });
}

export function toProblem(error: GatewayError, instance?: string): Problem {
  return {
    ...error.extensions,
    type: `${TYPE_BASE}${error.code.slice('GW_ERR_'.length).toLowerCase().replaceAll('_', '-')}`,
    title: error.title,
    status: error.status,
    detail: error.detail,
    code: error.code,
    ...(instance === undefined ? {} : { instance }),
    ...(error.errors === undefined ? {} : { errors: error.errors }),
  };
}

/** The WebSocket form: the same problem, tied to the frame id that caused it. */
export function toErrorFrame(error: GatewayError, id?: string): Record<string, unknown> {
  const { type, title, status, detail, code, errors } = toProblem(error);
  return { op: 'error', ...(id === undefined ? {} : { id }), status, code, type, title, detail, ...(errors ? { errors } : {}) };
}

/** The error's detail as a WebSocket close reason, which may carry at most 123 bytes. */
export function toCloseReason(error: GatewayError): string {
  const bytes = Buffer.from(error.detail, 'utf8');
  if (bytes.length <= 123) return error.detail;
  // Cut at a character boundary: a split character would make the reason invalid UTF-8.
  let end = 123;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8');
}
