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

export function avroType(text: string, references: readonly ResolvedReference[] = []): avro.Type {
  const registry: Record<string, avro.Type> = {};
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
      const name = at.typeName === 'record' || at.typeName === 'enum' || at.typeName === 'fixed' ? `${at.typeName} ${String((at as unknown as { name?: string }).name)}` : at.typeName;
      errors.push({ pointer: pointer(path), message: `must be Avro ${name}${at.typeName.startsWith('union') ? ' (in JSON a union is {"<branch>": value}, or null)' : ''}` });
    },
  });
  return errors.length > 0 ? errors : [{ pointer: '', message: fallback }];
}

export function parseAvro(text: string, references: readonly ResolvedReference[] = []): ParsedSchema & { readonly avro: avro.Type } {
  const type = avroType(text, references);
  return {
    type: 'AVRO',
    avro: type,
    canonical: JSON.stringify(type.schema()),
    encode(value: unknown): Buffer | FieldError[] {
      let decoded: unknown;
      try {
        decoded = type.fromString(JSON.stringify(value));
      } catch (error) {
        return whereInvalid(type, value, `does not fit the Avro schema: ${(error as Error).message}`);
      }
      if (!type.isValid(decoded)) return whereInvalid(type, value, 'does not fit the Avro schema');
      return type.toBuffer(decoded);
    },
    decode(payload: Buffer): unknown {
      // fromBuffer refuses trailing bytes, so a payload of another schema fails rather than reading as garbage.
      return JSON.parse(type.toString(type.fromBuffer(payload)));
    },
  };
}
