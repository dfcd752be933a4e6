/**
 * Protobuf through protobufjs. JSON in and out follows Protobuf's JSON
 * mapping (what `JsonFormat` and Python's `MessageToDict` speak): field
 * names in lowerCamelCase, 64-bit integers as decimal strings (numbers are
 * taken too), enums by name, bytes as base64, and the well-known types
 * `Timestamp` (RFC 3339), `Duration` ("1.5s") and the wrappers (the bare
 * value). The message is the schema's first unless a record says otherwise
 * by its message indexes, as Confluent's serializers write them.
 */
import protobuf from 'protobufjs';
import descriptorModule from 'protobufjs/ext/descriptor/index.js';
import type * as Descriptor from 'protobufjs/ext/descriptor/index.js';
import type { FieldError } from '../../common/index.js';
import type { ParsedSchema, ResolvedReference } from './types.js';

const WELL_KNOWN = /^google\/protobuf\/(\w+)\.proto$/;

function addImports(root: protobuf.Root, imports: readonly string[] | undefined): void {
  for (const file of imports ?? []) {
    if (!WELL_KNOWN.test(file)) continue;
    const definition = protobuf.common.get(file);
    if (definition?.nested) root.addJSON(definition.nested);
  }
}

// The extension is CommonJS: its exports arrive as the default import.
const descriptor = descriptorModule as unknown as typeof Descriptor;
// What protobufjs's descriptor extension adds to Root (its typings declare the functions, not the augmentation).
const withDescriptors = protobuf.Root as unknown as { fromDescriptor(set: Uint8Array): protobuf.Root };

/** A schema given as a base64 FileDescriptorProto (what confluent-kafka's Python serializer registers) rather than .proto text. */
function isSerialized(text: string): boolean {
  return !/\s/.test(text) && /^[A-Za-z0-9+/]+={0,2}$/.test(text) && !/^syntax|^message|^package/.test(text);
}

interface FileDescriptor {
  readonly package?: string;
  readonly messageType?: ReadonlyArray<{ readonly name?: string }>;
  readonly dependency?: readonly string[];
}

function fromSerialized(text: string): { root: protobuf.Root; names: string[] } {
  const file = descriptor.FileDescriptorProto.decode(Buffer.from(text, 'base64')) as unknown as FileDescriptor;
  const set = descriptor.FileDescriptorSet.encode(descriptor.FileDescriptorSet.fromObject({ file: [file] })).finish();
  const root = withDescriptors.fromDescriptor(set);
  addImports(root, file.dependency);
  const prefix = file.package ? `.${file.package}.` : '.';
  return { root, names: (file.messageType ?? []).map((m) => `${prefix}${m.name ?? ''}`) };
}

/** The schema as a base64 FileDescriptorProto, for clients asking `format=serialized`. */
export function serializedProtobuf(text: string, references: readonly ResolvedReference[] = []): string {
  if (isSerialized(text)) return text;
  const { root, messages } = protobufRoot(text, references);
  const set = (root as unknown as { toDescriptor(edition: string): { file: Array<{ messageType?: Array<{ name?: string }> }> } }).toDescriptor('proto3');
  const first = messages[0]!.name;
  const file = set.file.find((f) => (f.messageType ?? []).some((m) => m.name === first)) ?? set.file[0];
  return Buffer.from(descriptor.FileDescriptorProto.encode(descriptor.FileDescriptorProto.fromObject(file as object)).finish()).toString('base64');
}

/** A schema and its references parsed into one root; the references' texts are found by the names the schema imports. */
export function protobufRoot(text: string, references: readonly ResolvedReference[] = []): { root: protobuf.Root; messages: protobuf.Type[] } {
  if (isSerialized(text)) {
    const { root, names } = fromSerialized(text);
    root.resolveAll();
    const messages = names.map((name) => root.lookupType(name));
    if (messages.length === 0) throw new Error('the schema defines no message');
    return { root, messages };
  }
  const root = new protobuf.Root();
  for (const reference of references) addImports(root, protobuf.parse(reference.schema, root).imports);
  const parsed = protobuf.parse(text, root);
  addImports(root, parsed.imports);
  root.resolveAll();
  // The file's own top-level messages, in the order written: message index 0 is the first.
  const alone = protobuf.parse(text, new protobuf.Root());
  const namespace = alone.package ? alone.root.lookup(alone.package) : alone.root;
  const names = ((namespace as protobuf.Namespace | null)?.nestedArray ?? []).filter((n) => n instanceof protobuf.Type).map((n) => n.fullName);
  const messages = names.map((name) => root.lookupType(name));
  if (messages.length === 0) throw new Error('the schema defines no message');
  return { root, messages };
}

function isInt(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value);
}

const INT64 = /^-?\d{1,20}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$|^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?$/;
const RANGES: Record<string, [number, number]> = {
  int32: [-2147483648, 2147483647],
  sint32: [-2147483648, 2147483647],
  sfixed32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  fixed32: [0, 4294967295],
};
const WRAPPERS: Record<string, string> = {
  '.google.protobuf.DoubleValue': 'double',
  '.google.protobuf.FloatValue': 'float',
  '.google.protobuf.Int64Value': 'int64',
  '.google.protobuf.UInt64Value': 'uint64',
  '.google.protobuf.Int32Value': 'int32',
  '.google.protobuf.UInt32Value': 'uint32',
  '.google.protobuf.BoolValue': 'bool',
  '.google.protobuf.StringValue': 'string',
  '.google.protobuf.BytesValue': 'bytes',
};
const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const DURATION = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;

/** A scalar as protobufjs takes it, or the refusal's message. */
function scalar(type: string, value: unknown): { ok: unknown } | { refused: string } {
  switch (type) {
    case 'string':
      return typeof value === 'string' ? { ok: value } : { refused: 'must be a string' };
    case 'bool':
      return typeof value === 'boolean' ? { ok: value } : { refused: 'must be a boolean' };
    case 'bytes':
      return typeof value === 'string' && BASE64.test(value) ? { ok: value } : { refused: 'must be base64' };
    case 'double':
    case 'float':
      if (typeof value === 'number') return { ok: value };
      return value === 'NaN' || value === 'Infinity' || value === '-Infinity' ? { ok: Number(value) } : { refused: 'must be a number' };
    case 'int64':
    case 'sint64':
    case 'sfixed64':
    case 'uint64':
    case 'fixed64': {
      const text = typeof value === 'string' ? value : isInt(value) && Number.isSafeInteger(value) ? String(value) : undefined;
      if (text === undefined || !INT64.test(text)) return { refused: 'must be a 64-bit integer (a decimal string, or a number up to 2^53)' };
      const big = BigInt(text);
      const unsigned = type.startsWith('u') || type === 'fixed64';
      const [min, max] = unsigned ? [0n, 2n ** 64n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
      return big < min || big > max ? { refused: `is out of range for ${type}` } : { ok: text };
    }
    default: {
      const range = RANGES[type];
      const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
      if (!range || !isInt(number)) return { refused: `must be an integer (${type})` };
      return (number as number) < range[0] || (number as number) > range[1] ? { refused: `is out of range for ${type}` } : { ok: number };
    }
  }
}

/** Protobuf's JSON mapping to the object protobufjs's fromObject takes, checking every field (fromObject alone coerces silently). */
function fromJson(type: protobuf.Type, value: unknown, at: string, errors: FieldError[]): unknown {
  const special = wellKnownFromJson(type, value, at, errors);
  if (special !== undefined) return special.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push({ pointer: at, message: `must be an object (message ${type.name})` });
    return undefined;
  }
  const out: Record<string, unknown> = {};
  for (const [name, given] of Object.entries(value)) {
    const field = type.fields[name] ?? type.fieldsArray.find((f) => protobuf.util.camelCase(f.name) === name);
    const pointer = `${at}/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    if (!field) {
      errors.push({ pointer, message: `is not a field of message ${type.name}` });
      continue;
    }
    if (given === null) continue;
    field.resolve();
    if (field.map) {
      if (typeof given !== 'object' || Array.isArray(given)) {
        errors.push({ pointer, message: 'must be an object (a map)' });
        continue;
      }
      out[field.name] = Object.fromEntries(Object.entries(given as object).map(([k, v]) => [k, element(field, v, `${pointer}/${k}`, errors)]));
    } else if (field.repeated) {
      if (!Array.isArray(given)) {
        errors.push({ pointer, message: 'must be an array (a repeated field)' });
        continue;
      }
      out[field.name] = given.map((v, i) => element(field, v, `${pointer}/${i}`, errors));
    } else {
      out[field.name] = element(field, given, pointer, errors);
    }
  }
  return out;
}

function element(field: protobuf.Field, value: unknown, pointer: string, errors: FieldError[]): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return fromJson(resolved, value, pointer, errors);
  if (resolved instanceof protobuf.Enum) {
    if (typeof value === 'string' && Object.hasOwn(resolved.values, value)) return value;
    if (isInt(value) && Object.values(resolved.values).includes(value as number)) return value;
    errors.push({ pointer, message: `must be one of ${Object.keys(resolved.values).join(', ')}` });
    return undefined;
  }
  const result = scalar(field.type, value);
  if ('refused' in result) {
    errors.push({ pointer, message: result.refused });
    return undefined;
  }
  return result.ok;
}

function wellKnownFromJson(type: protobuf.Type, value: unknown, at: string, errors: FieldError[]): { value: unknown } | undefined {
  const wrapped = WRAPPERS[type.fullName];
  if (wrapped) {
    const result = scalar(wrapped, value);
    if ('refused' in result) errors.push({ pointer: at, message: result.refused });
    return { value: 'ok' in result ? { value: result.ok } : undefined };
  }
  if (type.fullName === '.google.protobuf.Timestamp') {
    const match = typeof value === 'string' ? RFC3339.exec(value) : null;
    const ms = match ? Date.parse(`${match[1]}${match[3]}`) : NaN;
    if (!match || Number.isNaN(ms)) {
      errors.push({ pointer: at, message: 'must be an RFC 3339 date-time with an offset (Timestamp)' });
      return { value: undefined };
    }
    const nanos = match[2] ? Number(match[2].slice(1).padEnd(9, '0')) : 0;
    return { value: { seconds: String(Math.floor(ms / 1000)), nanos } };
  }
  if (type.fullName === '.google.protobuf.Duration') {
    const match = typeof value === 'string' ? DURATION.exec(value) : null;
    if (!match) {
      errors.push({ pointer: at, message: 'must be a duration in seconds such as "1.5s" (Duration)' });
      return { value: undefined };
    }
    const sign = match[1] ? -1 : 1;
    const nanos = match[3] ? Number(match[3].padEnd(9, '0')) : 0;
    return { value: { seconds: `${match[1] ?? ''}${match[2]}`, nanos: sign * nanos } };
  }
  return undefined;
}

/** protobufjs's toObject output to Protobuf's JSON mapping for the well-known types. */
function toJson(type: protobuf.Type, object: Record<string, unknown>): unknown {
  if (WRAPPERS[type.fullName]) return object.value ?? defaultOf(WRAPPERS[type.fullName]!);
  if (type.fullName === '.google.protobuf.Timestamp') {
    const seconds = Number(object.seconds ?? 0);
    const nanos = Number(object.nanos ?? 0);
    const base = new Date(seconds * 1000).toISOString().slice(0, 19);
    return `${base}${nanos ? `.${String(nanos).padStart(9, '0').replace(/0+$/, '')}` : ''}Z`;
  }
  if (type.fullName === '.google.protobuf.Duration') {
    const seconds = BigInt(String(object.seconds ?? 0));
    const nanos = Number(object.nanos ?? 0);
    const negative = seconds < 0n || nanos < 0;
    const abs = (seconds < 0n ? -seconds : seconds).toString();
    return `${negative ? '-' : ''}${abs}${nanos ? `.${String(Math.abs(nanos)).padStart(9, '0').replace(/0+$/, '')}` : ''}s`;
  }
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const value = object[field.name];
    if (value === undefined) continue;
    // JSON names are lowerCamelCase, whether the schema came as text (protobufjs camel-cases) or as a descriptor (it does not).
    const name = protobuf.util.camelCase(field.name);
    const nested = field.resolvedType;
    if (!(nested instanceof protobuf.Type)) out[name] = value;
    else if (field.map) out[name] = Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, toJson(nested, v as Record<string, unknown>)]));
    else if (field.repeated) out[name] = (value as Record<string, unknown>[]).map((v) => toJson(nested, v));
    else out[name] = toJson(nested, value as Record<string, unknown>);
  }
  return out;
}

function defaultOf(type: string): unknown {
  return type === 'bool' ? false : type === 'string' || type === 'bytes' ? '' : type.includes('64') ? '0' : 0;
}

/** Confluent's message indexes: zigzag varints, a count then each index; `[0]` is the single byte 0. */
function readIndexes(payload: Buffer): { indexes: number[]; offset: number } {
  let offset = 0;
  const next = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (offset >= payload.length || shift > 28) throw new Error('the message indexes are cut short');
      const byte = payload[offset++]!;
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
    }
    return (result >>> 1) ^ -(result & 1);
  };
  const count = next();
  if (count < 0 || count > 100) throw new Error('the message indexes are not valid');
  if (count === 0) return { indexes: [0], offset };
  const indexes: number[] = [];
  for (let i = 0; i < count; i++) indexes.push(next());
  return { indexes, offset };
}

function messageAt(messages: readonly protobuf.Type[], indexes: readonly number[]): protobuf.Type {
  let type = messages[indexes[0]!];
  for (const index of indexes.slice(1)) {
    type = type?.nestedArray.filter((n) => n instanceof protobuf.Type)[index];
  }
  if (!type) throw new Error(`the schema has no message at indexes [${indexes.join(', ')}]`);
  return type;
}

export function parseProtobuf(text: string, references: readonly ResolvedReference[] = []): ParsedSchema & { readonly messages: readonly protobuf.Type[] } {
  const { root, messages } = protobufRoot(text, references);
  const first = messages[0]!;
  return {
    type: 'PROTOBUF',
    messages,
    recordName: first.fullName.replace(/^\./, ''),
    // protobufjs's JSON descriptor: the same definitions compare equal however the text is laid out.
    canonical: JSON.stringify(messages.map((m) => root.lookupType(m.fullName).toJSON())),
    encode(value: unknown): Buffer | FieldError[] {
      const errors: FieldError[] = [];
      const object = fromJson(first, value, '', errors);
      if (errors.length > 0) return errors;
      const body = first.encode(first.fromObject(object as Record<string, unknown>)).finish();
      // Message index [0], the first message, as the single byte 0.
      return Buffer.concat([Buffer.from([0]), body]);
    },
    decode(payload: Buffer): unknown {
      const { indexes, offset } = readIndexes(payload);
      const type = messageAt(messages, indexes);
      const message = type.decode(payload.subarray(offset));
      const object = type.toObject(message, { longs: String, enums: String, bytes: String, json: true });
      return toJson(type, object);
    },
  };
}
