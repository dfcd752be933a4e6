/**
 * openapi.yaml loaded and compiled once per process: the schemas every edge
 * checks input against (the HTTP contract, the record model shared by every
 * produce transport), and the one way an ajv failure becomes field errors.
 * Knows nothing of HTTP.
 */
import { readFileSync } from 'node:fs';
import type { Ajv2020, ValidateFunction } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { edgeAjv } from './edge-ajv.js';
import { openapiPath } from './paths.js';

export const DOCUMENT_ID = 'openapi.json';

/** An ajv for the document (see edgeAjv): formats checked, `date-time` by the gateway's one timestamp parser. */
export function documentAjv(document: object, options: { coerce: boolean }): Ajv2020 {
  const ajv = edgeAjv(options);
  ajv.addSchema(document, DOCUMENT_ID);
  return ajv;
}

/** A schema taken out of the document, with its local $refs pointed back into the document. */
export function anchored(schema: object): object {
  return JSON.parse(JSON.stringify(schema), (key, value: unknown) =>
    key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `${DOCUMENT_ID}${value}` : value,
  ) as object;
}

export { fieldErrors } from './field-errors.js';

/** The document and its compiled schemas; one per process (see openapi()). */
export class OpenApi {
  readonly ajv: Ajv2020;
  /** For parameters, which arrive as strings: coerces them to their declared types and fills in defaults. */
  readonly coercing: Ajv2020;
  readonly #components = new Map<string, ValidateFunction>();

  constructor(readonly document: Readonly<Record<string, unknown>>) {
    this.ajv = documentAjv(document, { coerce: false });
    this.coercing = documentAjv(document, { coerce: true });
  }

  static load(path = openapiPath): OpenApi {
    return new OpenApi(parse(readFileSync(path, 'utf8')) as Record<string, unknown>);
  }

  /** The compiled validator of `components.schemas.<name>`, compiled on first use. */
  component(name: string): ValidateFunction {
    let validate = this.#components.get(name);
    if (!validate) {
      validate = this.ajv.getSchema(`${DOCUMENT_ID}#/components/schemas/${name}`);
      if (!validate) throw new Error(`openapi.yaml has no components.schemas.${name}`);
      this.#components.set(name, validate);
    }
    return validate;
  }
}

let shared: OpenApi | undefined;
/** openapi.yaml as the process serves it, loaded on first use. */
export function openapi(): OpenApi {
  shared ??= OpenApi.load();
  return shared;
}
