/**
 * The multiplexed WebSocket protocol's client frames, checked against one
 * JSON Schema each; docs/websocket.md and docs/asyncapi.yaml describe them.
 * A frame that fails gets an error frame naming the field, tied to its id.
 */
import { GatewayError, describeFieldErrors, edgeAjv, fieldErrors, illFormedPointer } from '../common/index.js';
import type { FrameStart } from '../edge-rules/index.js';
import type { AckMode } from '../kafka/index.js';
import { loadClientFrameSchemas } from './frame-schemas.js';
import { MAX_KEYS, ownedConcat, type Fallback, type HeaderForm, type KeyFormat } from '../records/index.js';

export interface SubscribeFrame {
  readonly op: 'subscribe';
  readonly id: string;
  readonly topics: readonly string[];
  readonly group?: string;
  readonly from?: FrameStart;
  readonly ack?: AckMode;
  readonly credit?: number;
  /** How values that are not JSON are sent. */
  readonly format?: Fallback;
  readonly headers?: HeaderForm;
  /** Only records with one of these keys. */
  readonly keys?: readonly string[];
  /** How `keys` are written: UTF-8 text (default) or base64 of the key bytes. */
  readonly keyFormat?: KeyFormat;
  /** An `acked` frame for every commit the group has taken. */
  readonly receipts?: boolean;
  /** A share group (a queue) to read as a member of, instead of a consumer group. */
  readonly shareGroup?: string;
  /** With shareGroup, where rejected records go on brokers that have no dead-letter topics of their own. */
  readonly deadLetterTopic?: string;
}

/** The client's outcome for a record (or a range of records) of a share group subscription. */
export interface AnswerFrame {
  readonly op: 'answer';
  readonly id?: string;
  readonly sub: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** The last offset (inclusive) of a range answered alike. */
  readonly lastOffset?: string;
  readonly outcome: 'accept' | 'release' | 'reject' | 'renew';
  /** Why a record is rejected, written into its dead letter. */
  readonly reason?: string;
}

export { MAX_KEYS, keyFilter, type KeyFormat } from '../records/index.js';

export interface AckFrame {
  readonly op: 'ack';
  readonly id?: string;
  readonly sub: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface CreditFrame {
  readonly op: 'credit';
  readonly id?: string;
  readonly sub: string;
  readonly n: number;
}

export interface UnsubscribeFrame {
  readonly op: 'unsubscribe';
  readonly id: string;
}

export interface ProduceFrame {
  readonly op: 'produce';
  readonly id: string;
  readonly topic: string;
  readonly records: readonly unknown[];
  readonly keyFormat?: string;
  readonly valueFormat?: string;
  readonly keySchemaId?: number;
  readonly keySubject?: string;
  readonly keySchemaVersion?: number | 'latest';
  readonly valueSchemaId?: number;
  readonly valueSubject?: string;
  readonly valueSchemaVersion?: number | 'latest';
}

export type ClientFrame = SubscribeFrame | AckFrame | CreditFrame | UnsubscribeFrame | ProduceFrame | AnswerFrame;

// The frame schemas are docs/asyncapi.yaml's client messages: what clients read is what the gateway checks.
const SCHEMAS = loadClientFrameSchemas();
if ((SCHEMAS.subscribe.properties as { keys?: { maxItems?: number } }).keys?.maxItems !== MAX_KEYS) {
  throw new Error(`docs/asyncapi.yaml: subscribe.keys.maxItems must be ${MAX_KEYS}, the limit of a key filter`);
}

const ajv = edgeAjv();
const validators = Object.fromEntries(Object.entries(SCHEMAS).map(([op, schema]) => [op, ajv.compile(schema)]));

/** The id to tie an error frame to, read from whatever the client sent. */
export function frameId(raw: unknown): string | undefined {
  const value = (raw as { id?: unknown } | null)?.id;
  return typeof value === 'string' && value.length <= 128 ? value : undefined;
}

/** The subscription a frame names (`sub` of ack and credit frames), read from whatever the client sent, for its error frame. */
export function frameSub(raw: unknown): string | undefined {
  const value = (raw as { sub?: unknown } | null)?.sub;
  return typeof value === 'string' && value.length <= 128 ? value : undefined;
}

/** Reads one text frame as JSON; throws a GatewayError when it is not. */
export function readFrame(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new GatewayError('GW_ERR_MALFORMED_JSON', `The frame is not valid JSON: ${(error as Error).message}.`);
  }
}

/** Checks a frame read by readFrame against its op's schema; throws a GatewayError saying what to fix. */
export function checkFrame(raw: unknown): ClientFrame {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new GatewayError('GW_ERR_VALIDATION', 'A frame must be a JSON object with an "op".');
  }
  const op = (raw as { op?: unknown }).op;
  const validate = typeof op === 'string' ? validators[op] : undefined;
  if (!validate) {
    throw new GatewayError('GW_ERR_VALIDATION', `Unknown op ${JSON.stringify(op ?? null)}; use one of: ${Object.keys(SCHEMAS).join(', ')}.`, {
      errors: [{ pointer: '/op', message: 'is not a known operation' }],
    });
  }
  // The socket refuses bytes that are not UTF-8 (close 1007); an escaped lone surrogate is valid JSON but no text, and
  // would be stored as U+FFFD.
  const pointer = illFormedPointer(raw);
  if (pointer !== undefined) {
    throw new GatewayError('GW_ERR_VALIDATION', `The frame holds a lone surrogate (not text) at ${pointer}; send well-formed text, or binary data in a binary format.`, {
      errors: [{ pointer, message: 'must be text: no lone surrogates' }],
    });
  }
  if (!validate(raw)) {
    const errors = fieldErrors(validate.errors);
    throw new GatewayError('GW_ERR_VALIDATION', `Invalid ${String(op)} frame: ${describeFieldErrors(errors)}.`, { errors });
  }
  return raw as ClientFrame;
}

/** The start of every record frame of one subscription on the multiplexed endpoint. */
export function framePrefix(subscriptionId: string): Buffer {
  return Buffer.from(`{"op":"record","sub":${JSON.stringify(subscriptionId)},`);
}

/**
 * Per shared record body, the frames made of it, by subscription id. Many
 * clients name their subscriptions alike (an application's one `orders`
 * subscription, opened by every user), so the frame of a record fanned out
 * to thousands of sockets is mostly made once and shared, as the body is;
 * a copy per socket was the fan-out's largest allocation. Bounded per body:
 * past SHARED_IDS distinct ids a frame is made for its socket alone.
 */
const framesByBody = new WeakMap<Buffer, Map<string, Buffer>>();
const SHARED_IDS = 4;

/** A multiplexed record frame: the subscription's prefix and the shared body without its opening brace. */
export function multiplexedFrame(subscriptionId: string, prefix: Buffer, body: Buffer): Buffer {
  let frames = framesByBody.get(body);
  const shared = frames?.get(subscriptionId);
  if (shared) return shared;
  const frame = ownedConcat([prefix, body.subarray(1)]);
  if (!frames) {
    frames = new Map();
    framesByBody.set(body, frames);
  }
  if (frames.size < SHARED_IDS) frames.set(subscriptionId, frame);
  return frame;
}
