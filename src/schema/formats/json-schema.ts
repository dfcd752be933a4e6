/**
 * JSON Schema through ajv: the value's JSON text after the header, checked
 * against the schema on produce. The draft is the one `$schema` names
 * (draft-07 and earlier, 2019-09, 2020-12); without one, 2020-12, as the
 * gateway's per-topic schemas have always been read.
 */
import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { fieldErrors, type FieldError } from '../../common/index.js';
import { linearRegExp } from '../linear-regexp.js';
import type { ParsedSchema, ResolvedReference } from './types.js';

// ajv-formats is published as CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function ajvFor(schema: unknown): Ajv {
  const draft = typeof schema === 'object' && schema !== null ? String((schema as { $schema?: unknown }).$schema ?? '') : '';
  // Not strict: schemas written for other validators carry keywords ajv does not know (`definitions` under 2020-12, titles of their own).
  const options = { allErrors: true, strict: false, validateFormats: true, code: { regExp: linearRegExp } };
  const ajv = /draft-0[4-7]/.test(draft) ? new Ajv(options) : /2019-09/.test(draft) ? new Ajv2019(options) : new Ajv2020(options);
  return addFormats(ajv);
}

export function compileJsonSchema(text: string, references: readonly ResolvedReference[] = []): ValidateFunction {
  const schema = JSON.parse(text) as AnySchema;
  if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null || Array.isArray(schema))) throw new Error('a JSON Schema must be an object or a boolean');
  const ajv = ajvFor(schema);
  // A reference is found by the name the referring schema's $ref uses.
  for (const reference of references) ajv.addSchema(JSON.parse(reference.schema) as AnySchema, reference.name);
  return ajv.compile(schema);
}

export function parseJsonSchema(text: string, references: readonly ResolvedReference[] = []): ParsedSchema & { readonly json: unknown } {
  const validate = compileJsonSchema(text, references);
  const json = JSON.parse(text) as unknown;
  return {
    type: 'JSON',
    json,
    recordName: typeof (json as { title?: unknown } | null)?.title === 'string' ? (json as { title: string }).title : undefined,
    canonical: JSON.stringify(json),
    encode(value: unknown): Buffer | FieldError[] {
      if (!validate(value)) return fieldErrors(validate.errors, '');
      return Buffer.from(JSON.stringify(value), 'utf8');
    },
    decode(payload: Buffer): unknown {
      return JSON.parse(payload.toString('utf8')) as unknown;
    },
  };
}
