import type { CachedSchemas, KnownSchema } from './wire.js';
import type { SchemaText } from './subjects.js';

/**
 * Where the schemas for producing come from: the gateway's own registry,
 * or a registry elsewhere (SCHEMA_REGISTRY_URL). Ids are immutable, so a
 * source keeps every schema it has once seen; a registry that cannot be
 * reached is GW_ERR_REGISTRY_UNAVAILABLE (503), never a guess.
 */
export interface SchemaSource extends CachedSchemas {
  /** The schema of an id; GW_ERR_SCHEMA_NOT_FOUND for an id the registry does not hold. */
  byId(id: number): Promise<KnownSchema>;
  /** A subject's version (`latest` for the latest); GW_ERR_SUBJECT_NOT_FOUND or GW_ERR_VERSION_NOT_FOUND when missing. */
  byVersion(subject: string, version: number | 'latest'): Promise<KnownSchema & { readonly subject: string; readonly version: number }>;
  /** Registers a schema under a subject (its compatibility checked by the registry); answers its id. */
  register(subject: string, text: SchemaText): Promise<number>;
}
