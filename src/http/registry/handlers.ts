import { GatewayError } from '../../common/index.js';
import { SCHEMA_TYPES, type SchemaReference, type SchemaText, type SchemaType, type SubjectRegistry, type SubjectVersion } from '../../schema/index.js';
import type { Handlers } from '../contract.js';
import { sendRegistry } from './conventions.js';

export interface RegistryRouteDeps {
  readonly subjects: SubjectRegistry;
  /** Resolves once the registry's entries stored before start are loaded; 503 until then. */
  readonly ready: () => Promise<void>;
  /** SCHEMA_REGISTRY_URL: the registry formats use that registry, and this API is not served (its answers would be another registry's). */
  readonly external?: string;
}

type RegistryOperation =
  | 'srListSchemaTypes'
  | 'srGetSchemaById'
  | 'srGetRawSchemaById'
  | 'srGetSchemaVersions'
  | 'srListSubjects'
  | 'srLookupSchema'
  | 'srDeleteSubject'
  | 'srListVersions'
  | 'srRegisterSchema'
  | 'srGetVersion'
  | 'srDeleteVersion'
  | 'srGetVersionSchema'
  | 'srCheckCompatibility'
  | 'srCheckCompatibilityAll'
  | 'srGetConfig'
  | 'srPutConfig'
  | 'srGetSubjectConfig'
  | 'srPutSubjectConfig'
  | 'srDeleteSubjectConfig';

interface RegisterBody {
  readonly schema: string;
  readonly schemaType?: SchemaType;
  readonly references?: readonly SchemaReference[] | null;
}

function textOf(body: RegisterBody): SchemaText {
  return { schema: body.schema, schemaType: body.schemaType ?? 'AVRO', references: body.references ?? [] };
}

/** A flag as registry clients spell it (Python's `True`, others' `true`). */
function flag(given: string | undefined): boolean {
  return given?.toLowerCase() === 'true';
}

function versionOf(given: string): number | 'latest' {
  return given === 'latest' ? 'latest' : Number(given);
}

/** A version as the registry answers it: `schemaType` left out for Avro, references only when there are some, as the registry does. */
function shown(found: SubjectVersion): Record<string, unknown> {
  return {
    subject: found.subject,
    version: found.version,
    id: found.id,
    ...(found.schemaType === 'AVRO' ? {} : { schemaType: found.schemaType }),
    schema: found.schema,
    ...(found.references.length > 0 ? { references: found.references } : {}),
  };
}

/** The schema alone: the JSON document for Avro and JSON Schema, the text for Protobuf. */
function raw(text: SchemaText): unknown {
  return text.schemaType === 'PROTOBUF' ? text.schema : (JSON.parse(text.schema) as unknown);
}

/**
 * The Confluent Schema Registry API's core under /schema-registry, served
 * from the gateway's own registry (SubjectRegistry): what registry clients
 * call to register, look up and fetch schemas.
 */
export function registryHandlers({ subjects, ready, external }: RegistryRouteDeps): Pick<Handlers, RegistryOperation> {
  const loaded = async () => {
    if (external) throw new GatewayError('GW_ERR_NOT_FOUND', `This gateway uses the schema registry at ${external} (SCHEMA_REGISTRY_URL); ask it.`);
    await ready();
  };
  return {
    srListSchemaTypes: async ({ res }) => {
      await loaded();
      sendRegistry(res, 200, [...SCHEMA_TYPES].reverse());
    },
    srGetSchemaById: async ({ path, query, res }) => {
      await loaded();
      const text = subjects.schemaText(path.id);
      const schema = query.format === 'serialized' && text.schemaType === 'PROTOBUF' ? subjects.serializedProtobuf(path.id) : text.schema;
      sendRegistry(res, 200, { ...(text.schemaType === 'AVRO' ? {} : { schemaType: text.schemaType }), schema, ...(text.references.length > 0 ? { references: text.references } : {}) });
    },
    srGetRawSchemaById: async ({ path, res }) => {
      await loaded();
      sendRegistry(res, 200, raw(subjects.schemaText(path.id)));
    },
    srGetSchemaVersions: async ({ path, query, res }) => {
      await loaded();
      sendRegistry(res, 200, subjects.usesOf(path.id, flag(query.deleted)));
    },
    srListSubjects: async ({ query, res }) => {
      await loaded();
      sendRegistry(res, 200, subjects.subjects(flag(query.deleted)));
    },
    srLookupSchema: async ({ path, query, body, res }) => {
      await loaded();
      sendRegistry(res, 200, shown(subjects.lookup(path.subject, textOf(body as RegisterBody), flag(query.deleted))));
    },
    srDeleteSubject: async ({ path, query, res }) => {
      await loaded();
      sendRegistry(res, 200, await subjects.deleteSubject(path.subject, flag(query.permanent)));
    },
    srListVersions: async ({ path, query, res }) => {
      await loaded();
      sendRegistry(res, 200, subjects.versions(path.subject, flag(query.deleted)));
    },
    srRegisterSchema: async ({ path, body, res }) => {
      await loaded();
      const found = await subjects.registerVersion(path.subject, textOf(body as RegisterBody));
      sendRegistry(res, 200, { id: found.id, subject: found.subject, version: found.version, ...(found.schemaType === 'AVRO' ? {} : { schemaType: found.schemaType }), schema: found.schema });
    },
    srGetVersion: async ({ path, query, res }) => {
      await loaded();
      sendRegistry(res, 200, shown(subjects.version(path.subject, versionOf(path.version), flag(query.deleted))));
    },
    srDeleteVersion: async ({ path, query, res }) => {
      await loaded();
      sendRegistry(res, 200, await subjects.deleteVersion(path.subject, versionOf(path.version), flag(query.permanent)));
    },
    srGetVersionSchema: async ({ path, res }) => {
      await loaded();
      sendRegistry(res, 200, raw(subjects.version(path.subject, versionOf(path.version))));
    },
    srCheckCompatibility: async ({ path, query, body, res }) => {
      await loaded();
      const problems = subjects.compatibility(path.subject, textOf(body as RegisterBody), versionOf(path.version));
      sendRegistry(res, 200, { is_compatible: problems.length === 0, ...(flag(query.verbose) ? { messages: problems } : {}) });
    },
    srCheckCompatibilityAll: async ({ path, query, body, res }) => {
      await loaded();
      const problems = subjects.compatibility(path.subject, textOf(body as RegisterBody));
      sendRegistry(res, 200, { is_compatible: problems.length === 0, ...(flag(query.verbose) ? { messages: problems } : {}) });
    },
    srGetConfig: async ({ res }) => {
      await loaded();
      sendRegistry(res, 200, { compatibilityLevel: subjects.level() });
    },
    srPutConfig: async ({ body, res }) => {
      await loaded();
      await subjects.setLevel(undefined, body.compatibility);
      sendRegistry(res, 200, { compatibility: body.compatibility });
    },
    srGetSubjectConfig: async ({ path, query, res }) => {
      await loaded();
      const level = subjects.level(path.subject, !flag(query.defaultToGlobal));
      if (!level) throw new GatewayError('GW_ERR_SUBJECT_NOT_FOUND', `Subject ${JSON.stringify(path.subject)} has no compatibility level of its own; ask with defaultToGlobal=true for the default.`);
      sendRegistry(res, 200, { compatibilityLevel: level });
    },
    srPutSubjectConfig: async ({ path, body, res }) => {
      await loaded();
      await subjects.setLevel(path.subject, body.compatibility);
      sendRegistry(res, 200, { compatibility: body.compatibility });
    },
    srDeleteSubjectConfig: async ({ path, res }) => {
      await loaded();
      sendRegistry(res, 200, { compatibilityLevel: await subjects.deleteLevel(path.subject) });
    },
  };
}
