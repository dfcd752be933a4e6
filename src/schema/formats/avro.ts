/**
 * Avro through avsc. JSON in and out is Avro's own JSON encoding, the one
 * Confluent's REST Proxy and kafka-avro-console-producer take: a union
 * value other than null is wrapped as `{"<branch>": value}`, bytes and
 * fixed are strings of code points 0-255, enums their symbol, logical types
 * their underlying type (timestamp-millis a number of milliseconds).
 */
import avro from 'avsc';
import type { FieldError } from '../../common/index.js';
import type { ParsedSchema, ResolvedReference } from './types.js';

// Every union is wrapped: the JSON encoding needs to know the branch, and avsc refuses ambiguous unions unwrapped.
const OPTIONS = { wrapUnions: true } as const;

const INTEGER = /^-?\d{1,20}$/;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

/**
 * Avro's long as a bigint, all 64 bits: avsc's own refuses values past
 * 2^53. In JSON a long is a number while a double holds it exactly, and a
 * string of its digits past that; a produced long may be either.
 */
function bigLong(): avro.Type {
  const types = avro.types as unknown as { LongType: { __with(methods: object): avro.Type } };
  return types.LongType.__with({
    fromBuffer: (bytes: Buffer) => bytes.readBigInt64LE(),
    toBuffer: (value: bigint) => {
      const bytes = Buffer.alloc(8);
      bytes.writeBigInt64LE(value);
      return bytes;
    },
    fromJSON: (value: unknown) => {
      if ((typeof value === 'number' && Number.isSafeInteger(value)) || (typeof value === 'string' && INTEGER.test(value))) {
        const big = BigInt(value);
        if (big >= LONG_MIN && big <= LONG_MAX) return big;
      }
      throw new Error(`${JSON.stringify(value)} is not a 64-bit integer`);
    },
    toJSON: (value: bigint) => (value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString()),
    isValid: (value: unknown) => typeof value === 'bigint' && value >= LONG_MIN && value <= LONG_MAX,
    compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
  });
}

export function avroType(text: string, references: readonly ResolvedReference[] = []): avro.Type {
  const registry: Record<string, avro.Type> = { long: bigLong() };
  // A referenced schema's named types are known by name to the schemas after it.
  for (const reference of references) avro.Type.forSchema(JSON.parse(reference.schema) as avro.Schema, { ...OPTIONS, registry });
  return avro.Type.forSchema(JSON.parse(text) as avro.Schema, { ...OPTIONS, registry });
}

function pointer(path: readonly string[]): string {
  return path.map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** Where a value breaks the schema, found by avsc's own check of the value as given (exact for all but bytes and fixed, whose JSON is a string). */
function whereInvalid(type: avro.Type, value: unknown, fallback: string): FieldError[] {
  const errors: FieldError[] = [];
  type.isValid(value, {
    errorHook: (path: string[], given: unknown, at: avro.Type) => {
      if (typeof given === 'string' && (at.typeName === 'bytes' || at.typeName === 'fixed')) return;
      // A long is a bigint inside; its JSON is a number or a string of digits.
      if (at.typeName === 'abstract:long' && ((typeof given === 'number' && Number.isSafeInteger(given)) || (typeof given === 'string' && INTEGER.test(given)))) return;
      if (at.typeName === 'abstract:long') {
        errors.push({ pointer: pointer(path), message: 'must be Avro long (a 64-bit integer: a number, or a string of digits)' });
        return;
      }
      const kind = at.typeName.replace(/:.*$/, '');
      const name = kind === 'record' || kind === 'enum' || kind === 'fixed' ? `${kind} ${String((at as unknown as { name?: string }).name)}` : kind;
      errors.push({ pointer: pointer(path), message: `must be Avro ${name}${at.typeName.startsWith('union') ? ' (in JSON a union is {"<branch>": value}, or null)' : ''}` });
    },
  });
  return errors.length > 0 ? errors : [{ pointer: '', message: fallback }];
}

/**
 * avsc's copy between its in-memory values and Avro's JSON encoding: coerce
 * 2 reads JSON, 3 writes it. fromString and toString are these with a
 * JSON.stringify or JSON.parse around them, which cost more than the
 * encoding itself on every record.
 */
interface JsonCopy {
  _copy(value: unknown, options: { coerce: 2 | 3 }): unknown;
}

export function parseAvro(text: string, references: readonly ResolvedReference[] = []): ParsedSchema & { readonly avro: avro.Type } {
  const type = avroType(text, references);
  const copy = type as unknown as JsonCopy;
  return {
    type: 'AVRO',
    avro: type,
    recordName: (type as unknown as { name?: string }).name,
    canonical: JSON.stringify(type.schema()),
    encode(value: unknown): Buffer | FieldError[] {
      try {
        // toBuffer checks the value against the type and throws where it does not fit.
        return type.toBuffer(copy._copy(value, { coerce: 2 }));
      } catch (error) {
        return whereInvalid(type, value, `does not fit the Avro schema: ${(error as Error).message}`);
      }
    },
    decode(payload: Buffer): unknown {
      // fromBuffer refuses trailing bytes, so a payload of another schema fails rather than reading as garbage.
      return copy._copy(type.fromBuffer(payload), { coerce: 3 });
    },
  };
}
