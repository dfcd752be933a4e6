/**
 * The schemas a produce request names for its registry formats (avro,
 * protobuf, jsonschema), looked up once per request before its records
 * are decoded: by id, by subject and version, or (Confluent v2) given
 * inline and registered. By default the latest version of the topic's
 * subject, `<topic>-key` or `<topic>-value` (the topic name strategy).
 */
import { GatewayError, type FieldError } from '../common/index.js';
import type { SubjectStrategy } from '../config.js';
import { parseSchema, type KnownSchema, type SchemaSource, type SchemaText } from '../schema/index.js';
import { REGISTRY_FORMATS, isRegistryFormat, registryConverter } from './formats.js';
import type { Formats } from './to-kafka.js';

/** How a request names the schema of its keys or values. */
export interface SchemaChoice {
  readonly id?: number;
  readonly subject?: string;
  readonly version?: number | 'latest';
  /** A schema given inline (Confluent v2's `value_schema`), registered under the subject. */
  readonly schema?: string;
}

export interface SchemaChoices {
  readonly key?: SchemaChoice;
  readonly value?: SchemaChoice;
  /** The field names the request used, for errors (`valueSchemaId`, `value_schema_id`). */
  readonly names?: (field: 'key' | 'value', part: keyof SchemaChoice) => string;
  /** How a subject is named when the request names none (SCHEMA_REGISTRY_SUBJECT_STRATEGY); topic by default. */
  readonly strategy?: SubjectStrategy;
}

/** The subject of a topic's keys or values by the strategy; the record strategies need the schema (its record's full name). */
export function subjectName(strategy: SubjectStrategy, topic: string, field: 'key' | 'value', recordName: string | undefined): string | undefined {
  if (strategy === 'topic') return `${topic}-${field}`;
  if (recordName === undefined) return undefined;
  return strategy === 'record' ? recordName : `${topic}-${recordName}`;
}

const V1_NAMES = (field: 'key' | 'value', part: keyof SchemaChoice): string => `${field}${part === 'id' ? 'SchemaId' : part === 'version' ? 'SchemaVersion' : part === 'subject' ? 'Subject' : 'Schema'}`;

function named(choice: SchemaChoice | undefined): boolean {
  return choice !== undefined && Object.values(choice).some((v) => v !== undefined);
}

/** Whether the formats need schemas looked up (so a request without registry formats costs nothing more). */
export function needsSchemas(formats: Formats, choices: SchemaChoices = {}): boolean {
  return isRegistryFormat(formats.key) || isRegistryFormat(formats.value) || named(choices.key) || named(choices.value);
}

async function schemaFor(
  source: SchemaSource,
  topic: string,
  field: 'key' | 'value',
  format: keyof typeof REGISTRY_FORMATS,
  choice: SchemaChoice,
  names: NonNullable<SchemaChoices['names']>,
  strategy: SubjectStrategy,
): Promise<KnownSchema> {
  const type = REGISTRY_FORMATS[format];
  let known: KnownSchema;
  if (choice.schema !== undefined) {
    const text: SchemaText = { schemaType: type, schema: choice.schema, references: [] };
    const subject = choice.subject ?? subjectName(strategy, topic, field, parseSchema(type, choice.schema).recordName);
    if (subject === undefined) throw new GatewayError('GW_ERR_INVALID_SCHEMA', `The ${field} schema has no record name, which the ${strategy} subject strategy names its subject by.`);
    known = await source.byId(await source.register(subject, text));
  } else if (choice.id !== undefined) {
    known = await source.byId(choice.id);
  } else {
    const subject = choice.subject ?? subjectName(strategy, topic, field, undefined);
    if (subject === undefined) {
      throw new GatewayError('GW_ERR_VALIDATION', `With the ${strategy} subject strategy the subject cannot be told from the topic: name ${names(field, 'subject')} or ${names(field, 'id')}.`, {
        errors: [{ pointer: `/${names(field, 'subject')}`, message: 'is required with the record subject strategies' }],
      });
    }
    try {
      known = await source.byVersion(subject, choice.version ?? 'latest');
    } catch (error) {
      if (error instanceof GatewayError && error.code === 'GW_ERR_SUBJECT_NOT_FOUND') {
        throw new GatewayError('GW_ERR_SUBJECT_NOT_FOUND', `Subject ${JSON.stringify(subject)} has no schema: register one (POST /schema-registry/subjects/${encodeURIComponent(subject)}/versions), or name one with ${names(field, 'id')}.`);
      }
      throw error;
    }
  }
  if (known.type !== type) {
    const pointer = `/${names(field, choice.id !== undefined ? 'id' : 'subject')}`;
    throw new GatewayError('GW_ERR_VALIDATION', `Schema ${known.id} is ${known.type}, not ${format}; nothing was produced.`, {
      errors: [{ pointer, message: `names a ${known.type} schema, and ${field}Format is ${format}` }],
    });
  }
  return known;
}

/** The formats with the converters of the schemas the request names; throws for a schema that is missing, of another type, or a registry that is away. */
export async function resolveSchemas(source: SchemaSource, topic: string, formats: Formats, choices: SchemaChoices = {}): Promise<Formats> {
  const names = choices.names ?? V1_NAMES;
  const errors: FieldError[] = [];
  for (const field of ['key', 'value'] as const) {
    if (named(choices[field]) && !isRegistryFormat(formats[field])) {
      errors.push({ pointer: `/${field}Format`, message: `must be avro, protobuf or jsonschema when a ${field} schema is named` });
    }
  }
  if (errors.length > 0) throw new GatewayError('GW_ERR_VALIDATION', 'A schema is named for a format that takes none; nothing was produced.', { errors });
  const converter = async (field: 'key' | 'value') => {
    const format = formats[field];
    if (!isRegistryFormat(format)) return undefined;
    return registryConverter(await schemaFor(source, topic, field, format, choices[field] ?? {}, names, choices.strategy ?? 'topic'));
  };
  const [keyConverter, valueConverter] = await Promise.all([converter('key'), converter('value')]);
  return { ...formats, ...(keyConverter ? { keyConverter } : {}), ...(valueConverter ? { valueConverter } : {}) };
}
