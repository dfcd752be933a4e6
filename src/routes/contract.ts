/**
 * openapi.yaml as the routing contract. Compiled once at start: every
 * request is matched to its operation before any handler runs, and its path
 * and query parameters are checked against the spec, so a request whose
 * parameters break the contract gets a 400 naming them, and a path the
 * spec does not describe is never served. JSON request bodies are parsed
 * and checked against the operation's body schema before any handler too;
 * streamed bodies (NDJSON) are left to their route, which reads them line
 * by line.
 */
import { readFileSync } from 'node:fs';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { GatewayError, type FieldError } from '../errors.js';

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
  readonly 'x-error-format'?: string;
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
  /** `confluent-v2` for Confluent REST Proxy operations, whose errors are `{error_code, message}`. */
  readonly errorFormat: 'problem' | 'confluent-v2';
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
  readonly pathParams: Readonly<Record<string, string>>;
}

/** application/json and its +json relatives, not application/x-ndjson (a stream of JSON texts). */
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/;

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
// ajv-formats is published as CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

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

/** A schema taken out of the document, with its local $refs pointed back into the document. */
function anchored(schema: object): object {
  return JSON.parse(JSON.stringify(schema), (key, value: unknown) =>
    key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `openapi.json${value}` : value,
  ) as object;
}

function fieldErrors(errors: readonly ErrorObject[] | null | undefined, prefix: string): FieldError[] {
  return (errors ?? []).map((error) => {
    // Point at the field itself where ajv points at the object holding it.
    const field =
      error.keyword === 'required'
        ? String((error.params as { missingProperty: string }).missingProperty)
        : error.keyword === 'additionalProperties'
          ? String((error.params as { additionalProperty: string }).additionalProperty)
          : undefined;
    const pointer = `${prefix}${error.instancePath}${field === undefined ? '' : `/${field.replace(/~/g, '~0').replace(/\//g, '~1')}`}`;
    const allowed = error.keyword === 'enum' ? `: ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` : '';
    const message =
      error.keyword === 'additionalProperties'
        ? 'is an unknown field here'
        : error.keyword === 'minItems' && (error.params as { limit: number }).limit === 1
          ? 'must not be empty'
          : `${error.message ?? 'is invalid'}${allowed}`;
    return { pointer, message };
  });
}

export class Contract {
  readonly operations: readonly Operation[];
  readonly #ajv: Ajv2020;

  constructor(readonly document: OpenApiDocument & Record<string, unknown>) {
    this.#ajv = addFormats(new Ajv2020({ strict: false, allErrors: true, coerceTypes: false }));
    // Query and path values arrive as strings: a separate instance coerces them to the declared types.
    const coercing = addFormats(new Ajv2020({ strict: false, allErrors: true, coerceTypes: true }));
    this.#ajv.addSchema(document, 'openapi.json');
    coercing.addSchema(document, 'openapi.json');
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
          errorFormat: spec['x-error-format'] === 'confluent-v2' ? 'confluent-v2' : 'problem',
          pattern,
          parameterNames: names,
          validatePath: this.#compileParameters(coercing, parameters.filter((p) => p.in === 'path')),
          validateQuery: this.#compileParameters(coercing, parameters.filter((p) => p.in === 'query')),
          body: spec.requestBody && this.#compileBody(this.#resolve(this.document.components?.requestBodies, spec.requestBody)),
        });
      }
    }
    // Literal segments win over parameters, as /v1/topics/x/schema over /v1/topics/{topic}.
    this.operations = operations.sort((a, b) => a.parameterNames.length - b.parameterNames.length);
  }

  static load(path: string): Contract {
    return new Contract(parse(readFileSync(path, 'utf8')) as OpenApiDocument & Record<string, unknown>);
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
      if (JSON_MEDIA_TYPE.test(mediaType)) validators.set(mediaType, this.#ajv.compile(anchored(schema ?? {})));
    }
    return { required: body.required === true, mediaTypes: content.map(([mediaType]) => mediaType), validators };
  }

  #compileParameters(ajv: Ajv2020, parameters: readonly ParameterSpec[]): ValidateFunction | undefined {
    if (parameters.length === 0) return undefined;
    return ajv.compile({
      type: 'object',
      properties: Object.fromEntries(parameters.map((p) => [p.name, anchored(p.schema ?? {})])),
      required: parameters.filter((p) => p.required || p.in === 'path').map((p) => p.name),
    });
  }

  match(method: string, path: string): MatchedOperation | undefined {
    for (const operation of this.operations) {
      if (operation.method !== method && !(method === 'HEAD' && operation.method === 'GET')) continue;
      const found = operation.pattern.exec(path);
      if (!found) continue;
      const pathParams: Record<string, string> = {};
      operation.parameterNames.forEach((name, i) => {
        pathParams[name] = decodeURIComponent(found[i + 1] ?? '');
      });
      return { operation, pathParams };
    }
    return undefined;
  }

  /** Methods the spec allows on a path, for 405's Allow header. */
  allowedMethods(path: string): string[] {
    return this.operations.filter((op) => op.pattern.test(path)).map((op) => op.method);
  }
}

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
    const { operation, pathParams } = matched;
    // Known before the parameters are checked, so their errors take the operation's error format.
    res.locals.operation = matched;
    const errors: FieldError[] = [];
    if (operation.validatePath && !operation.validatePath({ ...pathParams })) {
      errors.push(...fieldErrors(operation.validatePath.errors, '/path'));
    }
    if (operation.validateQuery && !operation.validateQuery({ ...(req.query as Record<string, unknown>) })) {
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

/**
 * Checks the body of the matched operation against openapi.yaml: a media
 * type the operation does not list gets 415, and a JSON body is parsed
 * (within `limitBytes`) and validated against its schema, so a body that
 * breaks the contract gets a 400 naming each field before any handler runs.
 */
export function checkRequestBody(limitBytes: number): RequestHandler {
  // The media type is checked below, so the parser takes whatever it is given. Not strict:
  // whether a bare value (`true` is a JSON Schema) is allowed is the body schema's call.
  const parseJson = express.json({ limit: limitBytes, type: () => true, strict: false });
  return (req: Request, res: Response, next: NextFunction) => {
    const body = operationOf(res)?.operation.body;
    if (!body) {
      next();
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
    // As HTTP frames a body: chunked, or a length that is not zero.
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
    if (!hasBody) {
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
      const listed = errors.slice(0, 10).map((e) => `${e.pointer || '(the body)'} ${e.message}`);
      next(
        new GatewayError('GW_ERR_VALIDATION', `The request body is not valid: ${listed.join('; ')}${errors.length > 10 ? '; …' : ''}.`, {
          errors: errors.slice(0, 100),
        }),
      );
    });
  };
}
