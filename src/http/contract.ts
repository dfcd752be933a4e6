/**
 * openapi.yaml as the routing contract, and the operation as the unit of the
 * HTTP layer. Compiled once at start: every request is matched to its
 * operation before any handler runs, its path and query parameters are
 * coerced and checked against the spec, and a path the spec does not
 * describe is never served. JSON request bodies are parsed and checked
 * against the operation's body schema before any handler too; streamed
 * bodies (NDJSON) are left to their handler. Handlers are registered once,
 * by operationId (dispatch). docs/http.md says why this is our own code
 * rather than a library.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { operations } from '../../clients/typescript/schema.js';
import { GatewayError, JsonTextError, type FieldError, checkTopicName, describeFieldErrors, OpenApi, anchored, fieldErrors, parseJsonText } from '../common/index.js';

interface ParameterSpec {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header' | 'cookie';
  readonly required?: boolean;
  readonly schema?: object;
  readonly $ref?: string;
}

interface RequestBodySpec {
  readonly required?: boolean;
  readonly content?: Record<string, { readonly schema?: object }>;
  readonly $ref?: string;
}

interface OperationSpec {
  readonly operationId: string;
  readonly parameters?: readonly ParameterSpec[];
  readonly requestBody?: RequestBodySpec;
  readonly 'x-permission'?: string;
  readonly 'x-topic-parameter'?: string;
  readonly 'x-group-parameter'?: string;
  readonly 'x-error-format'?: string;
  readonly security?: ReadonlyArray<Readonly<Record<string, unknown>>>;
}

interface OpenApiDocument {
  readonly paths: Record<string, Record<string, OperationSpec | ParameterSpec[]>>;
  readonly components?: {
    readonly parameters?: Record<string, ParameterSpec>;
    readonly requestBodies?: Record<string, RequestBodySpec>;
  };
}

/** One operation of the spec, compiled for matching and validation. */
export interface Operation {
  readonly operationId: string;
  readonly method: string;
  readonly template: string;
  /** What an authorization check needs to know: the permission and the path parameter naming the topic. */
  readonly permission?: string;
  readonly topicParameter?: string;
  /** The path parameter holding the operation's consumer group, whose ACL group rules apply with the same permission. */
  readonly groupParameter?: string;
  /** `confluent-v2` for Confluent REST Proxy operations, whose errors are `{error_code, message}`. */
  readonly errorFormat: 'problem' | 'confluent-v2' | 'schema-registry';
  /** Whether credentials may come as `access_token` in the query: the operation lists the `queryToken` scheme. */
  readonly queryToken: boolean;
  readonly pattern: RegExp;
  readonly parameterNames: readonly string[];
  readonly validatePath?: ValidateFunction;
  readonly validateQuery?: ValidateFunction;
  readonly body?: BodyContract;
}

/** What an operation accepts as its body: the media types, and a compiled schema for each JSON one. */
export interface BodyContract {
  readonly required: boolean;
  readonly mediaTypes: readonly string[];
  /** JSON media types only; a type without an entry (NDJSON) is streamed by its route. */
  readonly validators: ReadonlyMap<string, ValidateFunction>;
}

export interface MatchedOperation {
  readonly operation: Operation;
  /** Path parameters as they arrived (percent-decoded strings). */
  readonly pathParams: Readonly<Record<string, string>>;
  /** Path and query parameters as the contract reads them: coerced to their declared types, defaults filled in. */
  readonly path: Readonly<Record<string, unknown>>;
  readonly query: Readonly<Record<string, unknown>>;
}

/** application/json and its +json relatives, not application/x-ndjson (a stream of JSON texts). */
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/;

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

function toPattern(template: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const name = /^\{([^}]+)\}$/.exec(part)?.[1];
      if (name === undefined) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      names.push(name);
      return '([^/]+)';
    })
    .join('');
  return { pattern: new RegExp(`^${source}$`), names };
}

export class Contract {
  readonly operations: readonly Operation[];
  readonly #openapi: OpenApi;
  /** The operations by method, in the order of `operations`: a request tries only its method's patterns. */
  readonly #byMethod = new Map<string, readonly Operation[]>();

  constructor(readonly document: OpenApiDocument & Record<string, unknown>) {
    this.#openapi = new OpenApi(document);
    const operations: Operation[] = [];
    for (const [template, item] of Object.entries(document.paths)) {
      const shared = (item.parameters as ParameterSpec[] | undefined) ?? [];
      for (const method of METHODS) {
        const spec = item[method] as OperationSpec | undefined;
        if (!spec) continue;
        const { pattern, names } = toPattern(template);
        // An operation's parameter overrides the path item's of the same name and location, as OpenAPI says.
        const byKey = new Map<string, ParameterSpec>();
        for (const p of [...shared, ...(spec.parameters ?? [])].map((q) => this.#resolve(this.document.components?.parameters, q))) byKey.set(`${p.in}:${p.name}`, p);
        const parameters = [...byKey.values()];
        operations.push({
          operationId: spec.operationId,
          method: method.toUpperCase(),
          template,
          permission: spec['x-permission'],
          topicParameter: spec['x-topic-parameter'],
          groupParameter: spec['x-group-parameter'],
          errorFormat: spec['x-error-format'] === 'confluent-v2' || spec['x-error-format'] === 'schema-registry' ? spec['x-error-format'] : 'problem',
          queryToken: (spec.security ?? []).some((requirement) => 'queryToken' in requirement),
          pattern,
          parameterNames: names,
          validatePath: this.#compileParameters(parameters.filter((p) => p.in === 'path')),
          validateQuery: this.#compileParameters(parameters.filter((p) => p.in === 'query')),
          body: spec.requestBody && this.#compileBody(this.#resolve(this.document.components?.requestBodies, spec.requestBody)),
        });
      }
    }
    // Literal segments win over parameters, as /v1/topics/x/schema over /v1/topics/{topic}.
    this.operations = operations.sort((a, b) => a.parameterNames.length - b.parameterNames.length);
    for (const method of METHODS) {
      const upper = method.toUpperCase();
      // A HEAD request is served by a GET operation too, as express does.
      this.#byMethod.set(upper, this.operations.filter((op) => op.method === upper || (upper === 'HEAD' && op.method === 'GET')));
    }
  }

  static load(path?: string): Contract {
    return new Contract(OpenApi.load(path).document as OpenApiDocument & Record<string, unknown>);
  }

  /** The component a `$ref` names in `components` (its parameters or request bodies), or the object itself when it has none. */
  #resolve<T extends { readonly $ref?: string }>(components: Readonly<Record<string, T>> | undefined, item: T): T {
    if (!item.$ref) return item;
    const name = item.$ref.split('/').pop() ?? '';
    const resolved = components?.[name];
    if (!resolved) throw new Error(`openapi.yaml: unresolved ${item.$ref}`);
    return resolved;
  }

  #compileBody(body: RequestBodySpec): BodyContract {
    const content = Object.entries(body.content ?? {});
    const validators = new Map<string, ValidateFunction>();
    for (const [mediaType, { schema }] of content) {
      if (JSON_MEDIA_TYPE.test(mediaType)) validators.set(mediaType, this.#openapi.ajv.compile(anchored(schema ?? {})));
    }
    return { required: body.required === true, mediaTypes: content.map(([mediaType]) => mediaType), validators };
  }

  /** Parameters arrive as strings: the validator coerces them to their declared types and fills in defaults, in place. */
  #compileParameters(parameters: readonly ParameterSpec[]): ValidateFunction | undefined {
    if (parameters.length === 0) return undefined;
    return this.#openapi.coercing.compile({
      type: 'object',
      properties: Object.fromEntries(parameters.map((p) => [p.name, anchored(p.schema ?? {})])),
      required: parameters.filter((p) => p.required || p.in === 'path').map((p) => p.name),
    });
  }

  /**
   * The operation serving the request. A Confluent v2 path with one trailing
   * slash (`/consumers/g/`) is served as the path without it, as v2 servers
   * in use do; the gateway's own paths are matched exactly.
   */
  match(method: string, path: string): MatchedOperation | undefined {
    return this.#match(method, path) ?? (hasTrailingSlash(path) ? this.#match(method, path.slice(0, -1), isV2) : undefined);
  }

  #match(method: string, path: string, only: (operation: Operation) => boolean = () => true): MatchedOperation | undefined {
    for (const operation of this.#byMethod.get(method) ?? []) {
      if (!only(operation)) continue;
      const found = operation.pattern.exec(path);
      if (!found) continue;
      const pathParams: Record<string, string> = {};
      operation.parameterNames.forEach((name, i) => {
        pathParams[name] = decodeURIComponent(found[i + 1] ?? '');
      });
      return { operation, pathParams, path: { ...pathParams }, query: {} };
    }
    return undefined;
  }

  /** Methods the spec allows on a path, for 405's Allow header. */
  allowedMethods(path: string): string[] {
    const exact = this.operations.filter((op) => op.pattern.test(path));
    const slashed = hasTrailingSlash(path) ? this.operations.filter((op) => isV2(op) && op.pattern.test(path.slice(0, -1))) : [];
    return [...exact, ...slashed].map((op) => op.method);
  }
}

const hasTrailingSlash = (path: string) => path.length > 1 && path.endsWith('/') && !path.endsWith('//');
const isV2 = (operation: Operation) => operation.errorFormat === 'confluent-v2';

/** res.locals.operation holds the matched operation for later middleware (authorization, metrics). */
export function operationOf(res: Response): MatchedOperation | undefined {
  return res.locals.operation as MatchedOperation | undefined;
}

/**
 * Matches the request to its operation and checks path and query
 * parameters. Unknown paths get 404 and known paths with another method 405,
 * before any handler runs.
 */
export function matchOperation(contract: Contract): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    let matched: MatchedOperation | undefined;
    try {
      matched = contract.match(req.method, req.path);
    } catch {
      throw new GatewayError('GW_ERR_BAD_REQUEST', 'The request path is not validly percent-encoded.');
    }
    if (!matched) {
      const allowed = contract.allowedMethods(req.path);
      if (allowed.length > 0) {
        res.setHeader('Allow', allowed.join(', '));
        throw new GatewayError('GW_ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; use ${allowed.join(', ')}.`);
      }
      throw new GatewayError('GW_ERR_NOT_FOUND', `No route serves ${req.method} ${req.path}.`);
    }
    const { operation } = matched;
    // The validators coerce these copies in place and fill in defaults: handlers get them as the contract reads them.
    const path = { ...matched.path };
    const query = { ...(req.query as Record<string, unknown>) };
    // Known before the parameters are checked, so their errors take the operation's error format; the
    // validators below coerce `path` and `query` in place.
    res.locals.operation = { ...matched, path, query } satisfies MatchedOperation;
    // A topic name breaking the Topic parameter's pattern is refused as Kafka names it (GW_ERR_INVALID_TOPIC, v2's
    // 40002), not as any parameter.
    if (operation.topicParameter !== undefined) checkTopicName(String(path[operation.topicParameter] ?? ''));
    const errors: FieldError[] = [];
    if (operation.validatePath && !operation.validatePath(path)) {
      errors.push(...fieldErrors(operation.validatePath.errors, '/path'));
    }
    if (operation.validateQuery && !operation.validateQuery(query)) {
      errors.push(...fieldErrors(operation.validateQuery.errors, '/query'));
    }
    if (errors.length > 0) {
      const names = errors.map((e) => e.pointer.replace(/^\/(path|query)\//, ''));
      throw new GatewayError('GW_ERR_VALIDATION', `Invalid parameter: ${errors.map((e, i) => `${names[i]} ${e.message}`).join('; ')}.`, {
        errors,
        extensions: { parameter: names[0] },
      });
    }
    next();
  };
}

/** Whether a request carries a body, as HTTP frames one: chunked, or a length that is not zero. */
function framesBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}

/**
 * Reads and drops a body the operation does not take, before it is
 * answered: answering while the client still sends would have the
 * connection closed under a client that writes slowly, and it would read a
 * reset instead of the answer. Nothing is kept, so no size limit is needed;
 * the server's request timeout bounds a body that never ends.
 */
function discardBody(req: Request, next: NextFunction): void {
  let settled = false;
  const settle = (error?: unknown) => {
    if (settled) return;
    settled = true;
    next(error);
  };
  req.on('end', () => settle());
  req.on('error', settle);
  req.resume();
}

/** A JSON body refused by parseJsonText, as the error the client reads. */
function jsonBodyError(failure: unknown): unknown {
  if (!(failure instanceof JsonTextError)) return failure;
  if (failure.syntax || failure.pointer === undefined) return new GatewayError('GW_ERR_MALFORMED_JSON', `The request body ${failure.message}.`);
  const index = /^\/records\/(\d+)(\/|$)/.exec(failure.pointer)?.[1];
  const error = { pointer: failure.pointer, message: 'must be text: valid UTF-8 without lone surrogates' };
  return new GatewayError('GW_ERR_VALIDATION', `The request body ${failure.message}; send text as UTF-8, or binary data in a binary format.`, {
    errors: [index === undefined ? error : { index: Number(index), ...error }],
  });
}

const rawBodies = new WeakMap<object, Buffer>();

/** The bytes of a JSON body as they arrived (UTF-8, after any Content-Encoding), once checkRequestBody has parsed it. */
export function rawJsonBody(req: Request): Buffer | undefined {
  return rawBodies.get(req);
}

/**
 * Checks the body of the matched operation against openapi.yaml: a media
 * type the operation does not list gets 415, and a JSON body is parsed
 * (within `limitBytes`) and validated against its schema, so a body that
 * breaks the contract gets a 400 naming each field before any handler runs.
 */
export function checkRequestBody(limitBytes: number): RequestHandler {
  // The media type is checked below, so the reader takes whatever it is given. The bytes are parsed here rather than
  // by express.json, which reads text with replacement characters: JSON is UTF-8, and a body that is not (or holds a
  // lone surrogate) is refused with a pointer to the string, never stored as U+FFFD. Any bare value parses: whether
  // one is allowed (`true` is a JSON Schema) is the body schema's call. The bytes are kept beside the parsed body
  // (rawJsonBody) for handlers that can use a value's own bytes.
  const readBytes = express.raw({ limit: limitBytes, type: () => true });
  const parseJson = (req: Request, res: Response, done: (error?: unknown) => void) =>
    readBytes(req, res, (error?: unknown) => {
      if (error) {
        done(error);
        return;
      }
      const bytes = req.body as Buffer;
      try {
        // As express.json does: an empty body is an empty object, for the schema to judge.
        req.body = bytes.length === 0 ? {} : parseJsonText(bytes);
        rawBodies.set(req, bytes);
        done();
      } catch (failure) {
        done(jsonBodyError(failure));
      }
    });
  return (req: Request, res: Response, next: NextFunction) => {
    const body = operationOf(res)?.operation.body;
    if (!body) {
      if (framesBody(req)) discardBody(req, next);
      else next();
      return;
    }
    const given = req.headers['content-type'];
    const mediaType = given?.split(';')[0]?.trim().toLowerCase();
    if (mediaType === undefined || !body.mediaTypes.includes(mediaType)) {
      if (!body.required && given === undefined) {
        next();
        return;
      }
      throw new GatewayError('GW_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type ${given ?? 'none'} is not accepted here; send one of: ${body.mediaTypes.join(', ')}.`);
    }
    const validate = body.validators.get(mediaType);
    if (!validate) {
      next();
      return;
    }
    if (!framesBody(req)) {
      if (!body.required) {
        next();
        return;
      }
      throw new GatewayError('GW_ERR_VALIDATION', `The request has no body; send ${mediaType}.`);
    }
    parseJson(req, res, (error?: unknown) => {
      if (error) {
        next(error);
        return;
      }
      if (validate(req.body)) {
        next();
        return;
      }
      // Produce bodies carry `records`: an error inside one also names its index, as the produce path's own errors do.
      const errors = fieldErrors(validate.errors, '').map((e) => {
        const index = /^\/records\/(\d+)(\/|$)/.exec(e.pointer)?.[1];
        return index === undefined ? e : { index: Number(index), ...e };
      });
      next(
        new GatewayError('GW_ERR_VALIDATION', `The request body is not valid: ${describeFieldErrors(errors)}.`, {
          errors: errors.slice(0, 100),
        }),
      );
    });
  };
}

/** Every operation of openapi.yaml, by operationId (the types openapi-typescript generates from it). */
export type OperationId = keyof operations;

type Parameters<Id extends OperationId, In extends 'path' | 'query'> = [NonNullable<operations[Id]['parameters'][In]>] extends [never]
  ? Readonly<Record<string, never>>
  : Readonly<NonNullable<operations[Id]['parameters'][In]>>;

type RequestBody<Id extends OperationId> = [NonNullable<operations[Id]['requestBody']>] extends [never]
  ? undefined
  : NonNullable<operations[Id]['requestBody']> extends { content: infer Content }
    ? Content[keyof Content]
    : undefined;

/**
 * What a handler receives: path and query parameters coerced and checked
 * by the contract, and the body checked against the operation's schema (a
 * JSON body parsed; a streamed one, such as NDJSON, left unread in `req`).
 */
export interface OperationInput<Id extends OperationId> {
  readonly path: Parameters<Id, 'path'>;
  readonly query: Parameters<Id, 'query'>;
  readonly body: RequestBody<Id>;
  /** The body's media type, lower case, without parameters; undefined without a body. */
  readonly mediaType: string | undefined;
  readonly req: Request;
  readonly res: Response;
}

export type OperationHandler<Id extends OperationId> = (input: OperationInput<Id>) => unknown;

/** One handler per operationId: the type makes leaving an operation of openapi.yaml without a handler a compile error. */
export type Handlers = { readonly [Id in OperationId]: OperationHandler<Id> };

/**
 * Runs the matched operation's handler. Routing happened once, in
 * matchOperation, from openapi.yaml: there are no express paths. Refuses to
 * start when an operation of the contract has no handler.
 */
// Handlers of different operations take different inputs; `never` is what any of them accepts as a parameter type.
export function dispatch(contract: Contract, handlers: Readonly<Record<string, (input: never) => unknown>>): RequestHandler {
  const missing = contract.operations.filter((op) => typeof handlers[op.operationId] !== 'function').map((op) => op.operationId);
  if (missing.length > 0) throw new Error(`openapi.yaml operations without a handler: ${missing.join(', ')}`);
  return async (req: Request, res: Response, next: NextFunction) => {
    const matched = operationOf(res);
    if (!matched) {
      next();
      return;
    }
    const handler = handlers[matched.operation.operationId]!;
    const mediaType = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    const input: OperationInput<OperationId> = { path: matched.path, query: matched.query, body: req.body, mediaType, req, res } as OperationInput<OperationId>;
    await handler(input as never);
  };
}
