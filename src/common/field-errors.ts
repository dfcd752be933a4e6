/**
 * ajv's failures as field errors a person reads: the JSON Pointer of the
 * field itself and what it must be, each problem once. ajv reports a
 * failed `oneOf`/`anyOf` three times over (the keyword, then each branch);
 * here the alternatives become one message ("must be an integer or an RFC
 * 3339 date-time"), and ajv's terse forms ("must be object", "must have
 * required property 'x'") become sentences ("must be an object", "is
 * required"). Every edge that checks input with ajv (the HTTP contract,
 * the record model, WebSocket frames, topic JSON Schemas) goes through here.
 */
import type { ErrorObject } from 'ajv/dist/2020.js';
import type { FieldError } from './errors.js';

const escapePointer = (name: string) => name.replaceAll('~', '~0').replaceAll('/', '~1');

const TYPE_NAMES: Readonly<Record<string, string>> = {
  object: 'an object',
  array: 'an array',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  null: 'null',
};

const FORMAT_NAMES: Readonly<Record<string, string>> = {
  'date-time': 'an RFC 3339 date-time with an offset, such as 2026-01-31T12:00:00Z',
  date: 'a date such as 2026-01-31',
  uri: 'a URI',
  email: 'an email address',
  uuid: 'a UUID',
};

const quoted = (value: unknown) => JSON.stringify(value);

function either(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)!}`;
}

/** What the value must be, for the keywords that say so; undefined for the others. */
function mustBe(error: ErrorObject): string | undefined {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'type': {
      const types = String(params.type).split(',');
      return either(types.map((t) => TYPE_NAMES[t] ?? t));
    }
    case 'format':
      return FORMAT_NAMES[String(params.format)] ?? `a valid ${String(params.format)}`;
    case 'enum':
      return `one of ${(params.allowedValues as unknown[]).map(quoted).join(', ')}`;
    case 'const':
      return quoted(params.allowedValue);
    case 'minimum':
      return `at least ${String(params.limit)}`;
    case 'maximum':
      return `at most ${String(params.limit)}`;
    case 'exclusiveMinimum':
      return `more than ${String(params.limit)}`;
    case 'exclusiveMaximum':
      return `less than ${String(params.limit)}`;
    case 'multipleOf':
      return `a multiple of ${String(params.multipleOf)}`;
    default:
      return undefined;
  }
}

function sentence(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  const be = mustBe(error);
  if (be !== undefined) return `must be ${be}`;
  const limit = Number(params.limit);
  switch (error.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
    case 'unevaluatedProperties':
      return 'is an unknown field here';
    case 'minItems':
      return limit === 1 ? 'must not be empty' : `must have at least ${limit} items`;
    case 'maxItems':
      return `must have at most ${limit} items`;
    case 'minLength':
      return limit === 1 ? 'must not be empty' : `must be at least ${limit} characters long`;
    case 'maxLength':
      return `must be at most ${limit} characters long`;
    case 'minProperties':
      return limit === 1 ? 'must not be empty' : `must have at least ${limit} fields`;
    case 'maxProperties':
      return `must have at most ${limit} fields`;
    case 'pattern':
      return `must match the pattern ${String(params.pattern)}`;
    case 'uniqueItems':
      return `must not repeat an item (items ${String(params.j)} and ${String(params.i)} are the same)`;
    case 'propertyNames':
      return `has a field name that is not allowed: ${quoted(params.propertyName)}`;
    case 'false schema':
      return 'is not allowed here';
    default:
      return error.message ?? 'is not valid';
  }
}

/** The field an error is about: ajv points at the object holding a missing or unknown field. */
function pointerOf(error: ErrorObject, prefix: string): string {
  const params = error.params as Record<string, unknown>;
  const field =
    error.keyword === 'required'
      ? String(params.missingProperty)
      : error.keyword === 'additionalProperties'
        ? String(params.additionalProperty)
        : error.keyword === 'unevaluatedProperties'
          ? String(params.unevaluatedProperty)
          : undefined;
  return `${prefix}${error.instancePath}${field === undefined ? '' : `/${escapePointer(field)}`}`;
}

/** Where an error's schema branches into alternatives (`.../oneOf/1/...`), or undefined. */
function alternativeOf(error: ErrorObject): string | undefined {
  const match = /^(.*\/(?:oneOf|anyOf))\/\d+(\/|$)/.exec(error.schemaPath);
  return match?.[1];
}

/**
 * ajv's errors as field errors, prefixed (e.g. `/path`, `/records/3`):
 * one per problem, alternatives of one oneOf/anyOf on the same field
 * folded into one "must be A or B".
 */
export function fieldErrors(errors: readonly ErrorObject[] | null | undefined, prefix = ''): FieldError[] {
  const result: Array<FieldError & { alternative?: string; choices?: string[] }> = [];
  for (const error of errors ?? []) {
    // The keyword's own error repeats what its branches already said.
    if (error.keyword === 'oneOf' || error.keyword === 'anyOf' || error.keyword === 'if') continue;
    const pointer = pointerOf(error, prefix);
    const alternative = alternativeOf(error);
    const be = mustBe(error);
    const message = sentence(error);
    if (alternative !== undefined && be !== undefined) {
      const same = result.find((r) => r.alternative === alternative && r.pointer === pointer && r.choices);
      if (same) {
        if (!same.choices!.includes(be)) same.choices!.push(be);
        continue;
      }
      result.push({ pointer, message, alternative, choices: [be] });
      continue;
    }
    if (result.some((r) => r.pointer === pointer && r.message === message)) continue;
    result.push({ pointer, message });
  }
  return result.map(({ pointer, message, choices }) => ({ pointer, message: choices ? `must be ${either(choices)}` : message }));
}

/** Field errors as one line of text: `/records/0 must be an object; /key_schema must be a string`. */
export function describeFieldErrors(errors: readonly FieldError[], max = 10): string {
  const listed = errors.slice(0, max).map((e) => `${e.pointer || '(the body)'} ${e.message}`);
  return `${listed.join('; ')}${errors.length > max ? '; …' : ''}`;
}
