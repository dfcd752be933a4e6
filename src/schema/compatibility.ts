/**
 * Whether a new schema may follow the ones before it in a subject, by the
 * subject's compatibility level, as the Confluent Schema Registry judges
 * it. BACKWARD: the new schema reads data written with the old; FORWARD:
 * the old reads the new; FULL: both. The transitive levels check against
 * every version, the others against the latest only.
 *
 * Avro uses avsc's schema resolution (the Avro specification's rules).
 * Protobuf and JSON Schema have no library judging evolution, so the rules
 * here are the registry's main ones for each (docs/schemas.md lists them).
 */
import type avro from 'avsc';
import protobuf from 'protobufjs';
import type { ParsedSchema } from './formats/index.js';

export const COMPATIBILITY_LEVELS = ['BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE', 'NONE'] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

/** Why `reader` cannot read what `writer` wrote, or none when it can. */
type ReadCheck = (reader: ParsedSchema, writer: ParsedSchema) => string[];

const avroReads: ReadCheck = (reader, writer) => {
  try {
    (reader as ParsedSchema & { avro: avro.Type }).avro.createResolver((writer as ParsedSchema & { avro: avro.Type }).avro);
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
};

// Protobuf scalar types whose encodings read as each other (the wire type is the same and values carry over).
const WIRE_GROUPS = [['int32', 'uint32', 'int64', 'uint64', 'bool'], ['sint32', 'sint64'], ['fixed32', 'sfixed32'], ['fixed64', 'sfixed64'], ['string', 'bytes'], ['double'], ['float']];

function protobufFieldsCompatible(a: protobuf.Field, b: protobuf.Field): boolean {
  if (a.map !== b.map || (a.repeated && !a.map) !== (b.repeated && !b.map)) return false;
  a.resolve();
  b.resolve();
  if (a.resolvedType || b.resolvedType) {
    if (a.resolvedType instanceof protobuf.Enum && b.resolvedType instanceof protobuf.Enum) return true;
    if (a.resolvedType instanceof protobuf.Type && b.resolvedType instanceof protobuf.Type) return a.resolvedType.name === b.resolvedType.name;
    // An enum reads as int32 on the wire.
    const scalarOf = (f: protobuf.Field) => (f.resolvedType instanceof protobuf.Enum ? 'int32' : f.resolvedType ? undefined : f.type);
    const [x, y] = [scalarOf(a), scalarOf(b)];
    return x !== undefined && y !== undefined && WIRE_GROUPS.some((g) => g.includes(x) && g.includes(y));
  }
  return a.type === b.type || WIRE_GROUPS.some((g) => g.includes(a.type) && g.includes(b.type));
}

function protobufMessages(schema: ParsedSchema): Map<string, protobuf.Type> {
  const all = new Map<string, protobuf.Type>();
  const visit = (type: protobuf.Type) => {
    all.set(type.fullName, type);
    for (const nested of type.nestedArray) if (nested instanceof protobuf.Type) visit(nested);
  };
  for (const type of (schema as ParsedSchema & { messages: protobuf.Type[] }).messages) visit(type);
  return all;
}

const protobufReads: ReadCheck = (reader, writer) => {
  const problems: string[] = [];
  const readerMessages = protobufMessages(reader);
  const writerMessages = protobufMessages(writer);
  const readerFirst = (reader as ParsedSchema & { messages: protobuf.Type[] }).messages[0]!.fullName;
  const writerFirst = (writer as ParsedSchema & { messages: protobuf.Type[] }).messages[0]!.fullName;
  if (readerFirst !== writerFirst) problems.push(`the first message changed from ${writerFirst} to ${readerFirst}`);
  for (const [name, writerType] of writerMessages) {
    const readerType = readerMessages.get(name);
    if (!readerType) {
      problems.push(`message ${name} was removed`);
      continue;
    }
    for (const field of writerType.fieldsArray) {
      const other = readerType.fieldsById[field.id];
      if (other && !protobufFieldsCompatible(other, field)) problems.push(`field ${field.id} of ${name} changed type (${field.type} to ${other.type})`);
      if (other && (other.partOf !== null) !== (field.partOf !== null)) problems.push(`field ${field.id} of ${name} moved into or out of a oneof`);
    }
  }
  return problems;
};

function typesOf(schema: unknown): Set<string> | undefined {
  if (typeof schema !== 'object' || schema === null) return undefined;
  const type = (schema as { type?: unknown }).type;
  if (type === undefined) return undefined;
  const types = new Set(Array.isArray(type) ? type.map(String) : [String(type)]);
  // An integer is a number.
  if (types.has('number')) types.add('integer');
  return types;
}

/** The main rules of JSON Schema evolution: what the writer allowed, the reader must allow. */
function jsonReads(reader: unknown, writer: unknown, at: string, problems: string[]): void {
  if (reader === true || writer === false || reader === undefined) return;
  if (reader === false) {
    problems.push(`${at || '/'} accepts nothing now`);
    return;
  }
  if (typeof reader !== 'object' || typeof writer !== 'object' || reader === null || writer === null) return;
  const r = reader as Record<string, unknown>;
  const w = writer as Record<string, unknown>;
  const readerTypes = typesOf(r);
  const writerTypes = typesOf(w);
  if (readerTypes && !writerTypes) problems.push(`${at || '/'} now restricts its type to ${[...readerTypes].join(', ')}`);
  if (readerTypes && writerTypes) {
    for (const t of writerTypes) if (!readerTypes.has(t) && !(t === 'integer' && readerTypes.has('number'))) problems.push(`${at || '/'} no longer accepts ${t}`);
  }
  const readerRequired = new Set(Array.isArray(r.required) ? r.required.map(String) : []);
  const writerRequired = new Set(Array.isArray(w.required) ? w.required.map(String) : []);
  for (const name of readerRequired) if (!writerRequired.has(name)) problems.push(`${at}/${name} is now required`);
  const readerProperties = (r.properties ?? {}) as Record<string, unknown>;
  const writerProperties = (w.properties ?? {}) as Record<string, unknown>;
  for (const [name, schema] of Object.entries(writerProperties)) {
    if (name in readerProperties) jsonReads(readerProperties[name], schema, `${at}/${name}`, problems);
    else if (r.additionalProperties === false) problems.push(`${at}/${name} was removed from a closed object`);
  }
  if (w.additionalProperties !== false && r.additionalProperties === false) problems.push(`${at || '/'} no longer accepts other properties`);
  if (r.items !== undefined && w.items !== undefined) jsonReads(r.items, w.items, `${at}/items`, problems);
  if (Array.isArray(r.enum) && (!Array.isArray(w.enum) || w.enum.some((v) => !(r.enum as unknown[]).some((x) => JSON.stringify(x) === JSON.stringify(v))))) {
    problems.push(`${at || '/'} allows fewer values`);
  }
  for (const [bound, tighter] of [['maxLength', 'lower'], ['maximum', 'lower'], ['maxItems', 'lower'], ['minLength', 'higher'], ['minimum', 'higher'], ['minItems', 'higher']] as const) {
    const rb = r[bound];
    const wb = w[bound];
    if (typeof rb !== 'number') continue;
    if (typeof wb !== 'number' || (tighter === 'lower' ? rb < wb : rb > wb)) problems.push(`${at || '/'} has a tighter ${bound}`);
  }
}

const jsonSchemaReads: ReadCheck = (reader, writer) => {
  const problems: string[] = [];
  jsonReads((reader as ParsedSchema & { json: unknown }).json, (writer as ParsedSchema & { json: unknown }).json, '', problems);
  return problems;
};

const READS: Record<ParsedSchema['type'], ReadCheck> = { AVRO: avroReads, PROTOBUF: protobufReads, JSON: jsonSchemaReads };

/**
 * Why `candidate` may not follow `previous` (oldest first) at `level`;
 * empty when it may.
 */
export function incompatibilities(level: CompatibilityLevel, candidate: ParsedSchema, previous: readonly ParsedSchema[]): string[] {
  if (level === 'NONE' || previous.length === 0) return [];
  const against = level.endsWith('_TRANSITIVE') ? previous : previous.slice(-1);
  const problems: string[] = [];
  for (const old of against) {
    if (old.type !== candidate.type) {
      problems.push(`the schema type changed from ${old.type} to ${candidate.type}`);
      continue;
    }
    const reads = READS[candidate.type];
    if (level.startsWith('BACKWARD') || level.startsWith('FULL')) problems.push(...reads(candidate, old).map((p) => `new reading old: ${p}`));
    if (level.startsWith('FORWARD') || level.startsWith('FULL')) problems.push(...reads(old, candidate).map((p) => `old reading new: ${p}`));
  }
  return [...new Set(problems)];
}
