/**
 * The gateway's own schema registry: subjects, their versions and schema
 * ids, as the Confluent Schema Registry keeps them, in the compacted topic
 * every instance already follows for the topics' JSON Schemas
 * (`_gateway_schemas`), under keys beginning with `registry/` (a topic name
 * cannot hold a slash, so the two never meet):
 *
 * - `registry/id/<id>/<claim>`: a schema (type, text, references);
 * - `registry/version/<subject>/<version>/<claim>`: a subject's version and its schema id;
 * - `registry/deleted/<subject>/<version>`: a version deleted softly;
 * - `registry/config` and `registry/config/<subject>`: compatibility levels.
 *
 * Ids and versions are claimed, not assigned by a leader: an instance
 * writes a claim under a key of its own (`<claim>` is random), and the
 * first claim of an id or version in the log wins on every instance alike.
 * An instance whose claim lost (another instance registered at the same
 * moment) sees so when its claim is read back and claims again.
 */
import { randomUUID } from 'node:crypto';
import { GatewayError, withDeadline, type Logger } from '../common/index.js';
import type { KeyedEntry } from '../kafka/index.js';
import { COMPATIBILITY_LEVELS, incompatibilities, type CompatibilityLevel } from './compatibility.js';
import { parseSchema, serializedProtobuf, SCHEMA_TYPES, type ParsedSchema, type ResolvedReference, type SchemaType } from './formats/index.js';
import { REGISTRY_PREFIX, type SchemaStore } from './registry.js';
import type { SchemaSource } from './source.js';
import type { KnownSchema } from './wire.js';

export interface SchemaReference {
  readonly name: string;
  readonly subject: string;
  readonly version: number;
}

/** A schema as the registry API carries it. */
export interface SchemaText {
  readonly schemaType: SchemaType;
  readonly schema: string;
  readonly references: readonly SchemaReference[];
}

/** A subject's version as the registry API answers it. */
export interface SubjectVersion extends SchemaText {
  readonly subject: string;
  readonly version: number;
  readonly id: number;
}

interface StoredId extends SchemaText {
  readonly claim: string;
}

interface StoredVersion {
  readonly id: number;
  readonly claim: string;
  deleted: boolean;
}

/** What a schema id resolves to for producing and reading: the compiled codec and where the id is used. */
export interface ResolvedSchema {
  readonly id: number;
  readonly text: SchemaText;
  readonly parsed: ParsedSchema;
}

const DEFAULT_LEVEL: CompatibilityLevel = 'BACKWARD';

function isLevel(value: unknown): value is CompatibilityLevel {
  return typeof value === 'string' && (COMPATIBILITY_LEVELS as readonly string[]).includes(value);
}

export class SubjectRegistry implements SchemaSource {
  readonly #ids = new Map<number, StoredId>();
  readonly #subjects = new Map<string, Map<number, StoredVersion>>();
  readonly #levels = new Map<string, CompatibilityLevel>();
  readonly #parsed = new Map<number, ParsedSchema | GatewayError>();
  /** What records are decoded with, per id; emptied when any subject version changes (the uses may have). */
  readonly #known = new Map<number, KnownSchema | Error>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: SchemaStore,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {}

  /** Every entry of the shared topic under `registry/`, in log order. */
  apply({ key, value }: KeyedEntry): void {
    this.#known.clear();
    const parts = key.slice(REGISTRY_PREFIX.length).split('/');
    try {
      if (parts[0] === 'id' && parts.length === 3) this.#applyId(Number(parts[1]), parts[2]!, value);
      else if (parts[0] === 'version' && parts.length === 4) this.#applyVersion(decodeURIComponent(parts[1]!), Number(parts[2]), parts[3]!, value);
      else if (parts[0] === 'deleted' && parts.length === 3) this.#applyDeleted(decodeURIComponent(parts[1]!), Number(parts[2]), value);
      else if (parts[0] === 'config') this.#applyConfig(parts.length > 1 ? decodeURIComponent(parts.slice(1).join('/')) : '', value);
    } catch (error) {
      this.logger.error({ err: error, key }, 'ignoring a registry entry this gateway cannot read');
    }
  }

  #applyId(id: number, claim: string, value: string | null): void {
    if (value === null) {
      if (this.#ids.get(id)?.claim === claim) this.#ids.delete(id);
      return;
    }
    // The first claim of an id wins; a later claim of the same id lost the race and is ignored.
    if (this.#ids.has(id) || !Number.isInteger(id) || id < 1) return;
    const stored = JSON.parse(value) as SchemaText;
    this.#ids.set(id, { schemaType: stored.schemaType ?? 'AVRO', schema: stored.schema, references: stored.references ?? [], claim });
  }

  #applyVersion(subject: string, version: number, claim: string, value: string | null): void {
    const versions = this.#subjects.get(subject) ?? new Map<number, StoredVersion>();
    if (value === null) {
      if (versions.get(version)?.claim === claim) versions.delete(version);
      if (versions.size === 0) this.#subjects.delete(subject);
      return;
    }
    if (versions.has(version) || !Number.isInteger(version) || version < 1) return;
    const { id } = JSON.parse(value) as { id: number };
    versions.set(version, { id, claim, deleted: false });
    this.#subjects.set(subject, versions);
  }

  #applyDeleted(subject: string, version: number, value: string | null): void {
    const stored = this.#subjects.get(subject)?.get(version);
    if (stored) stored.deleted = value !== null;
  }

  #applyConfig(subject: string, value: string | null): void {
    if (value === null) {
      this.#levels.delete(subject);
      return;
    }
    const { compatibilityLevel } = JSON.parse(value) as { compatibilityLevel?: unknown };
    if (isLevel(compatibilityLevel)) this.#levels.set(subject, compatibilityLevel);
  }

  // ---- reading

  /** Subjects with at least one version (soft-deleted ones too with `deleted`). */
  subjects(deleted = false): string[] {
    return [...this.#subjects].filter(([, versions]) => [...versions.values()].some((v) => deleted || !v.deleted)).map(([subject]) => subject).sort();
  }

  /** The subject's versions in order; throws 404 for a subject without any. */
  versions(subject: string, deleted = false): number[] {
    const found = [...(this.#subjects.get(subject) ?? new Map<number, StoredVersion>())].filter(([, v]) => deleted || !v.deleted).map(([n]) => n).sort((a, b) => a - b);
    if (found.length === 0) throw new GatewayError('GW_ERR_SUBJECT_NOT_FOUND', `Subject ${JSON.stringify(subject)} not found.`);
    return found;
  }

  /** A version by number, `latest` or -1 (the latest); throws 404 for a subject or version that does not exist. */
  version(subject: string, version: number | 'latest', deleted = false): SubjectVersion {
    const versions = this.versions(subject, deleted);
    const number = version === 'latest' || version === -1 ? versions[versions.length - 1]! : version;
    const stored = this.#subjects.get(subject)?.get(number);
    if (!stored || (stored.deleted && !deleted)) throw new GatewayError('GW_ERR_VERSION_NOT_FOUND', `Subject ${JSON.stringify(subject)} has no version ${number}.`);
    return { subject, version: number, id: stored.id, ...this.schemaText(stored.id) };
  }

  /** The schema of an id; throws 404 for an id no subject holds. */
  schemaText(id: number): SchemaText {
    const stored = this.#ids.get(id);
    if (!stored) throw new GatewayError('GW_ERR_SCHEMA_NOT_FOUND', `Schema ${id} not found.`);
    return { schemaType: stored.schemaType, schema: stored.schema, references: stored.references };
  }

  /** The subjects and versions using an id. */
  usesOf(id: number, deleted = false): Array<{ subject: string; version: number }> {
    this.schemaText(id);
    const uses: Array<{ subject: string; version: number }> = [];
    for (const [subject, versions] of this.#subjects) {
      for (const [version, stored] of versions) if (stored.id === id && (deleted || !stored.deleted)) uses.push({ subject, version });
    }
    return uses.sort((a, b) => a.subject.localeCompare(b.subject) || a.version - b.version);
  }

  /** An id's codec and uses, for decoding records: undefined for an id not stored, the error for one that does not compile. */
  cached(id: number): KnownSchema | Error | undefined {
    if (!this.#ids.has(id)) return undefined;
    let known = this.#known.get(id);
    if (!known) {
      try {
        const { parsed, text } = this.resolve(id);
        known = { id, type: text.schemaType, parsed, uses: this.usesOf(id, true) };
      } catch (error) {
        known = error as Error;
      }
      this.#known.set(id, known);
    }
    return known;
  }

  // ---- the schema source for producing

  /** Waits (bounded) until the registry's entries stored before start are loaded: 503 until then, never a record without its schema. */
  async #loaded(): Promise<void> {
    await withDeadline(this.store.caughtUp(), this.timeoutMs, () => {
      throw new GatewayError('GW_ERR_REGISTRY_UNAVAILABLE', 'The schema registry is not loaded from Kafka yet; retry shortly.', { retryAfterSeconds: 1 });
    });
  }

  async byId(id: number): Promise<KnownSchema> {
    await this.#loaded();
    const known = this.cached(id);
    if (known === undefined) throw new GatewayError('GW_ERR_SCHEMA_NOT_FOUND', `Schema ${id} not found in the schema registry.`);
    if (known instanceof Error) throw known;
    return known;
  }

  async byVersion(subject: string, version: number | 'latest'): Promise<KnownSchema & { subject: string; version: number }> {
    await this.#loaded();
    const found = this.version(subject, version);
    return { ...(await this.byId(found.id)), subject, version: found.version };
  }

  async register(subject: string, text: SchemaText): Promise<number> {
    await this.#loaded();
    return (await this.registerVersion(subject, text)).id;
  }

  /** A Protobuf schema of an id as a base64 FileDescriptorProto. */
  serializedProtobuf(id: number): string {
    const text = this.schemaText(id);
    try {
      return serializedProtobuf(text.schema, this.#referencesOf(text.references));
    } catch (error) {
      throw new GatewayError('GW_ERR_INVALID_SCHEMA', `Schema ${id} cannot be serialized: ${(error as Error).message}`);
    }
  }

  /** The compiled codec of an id (compiled once); throws 404 for an unknown id, 422 for a stored schema this gateway cannot compile. */
  resolve(id: number): ResolvedSchema {
    const text = this.schemaText(id);
    let parsed = this.#parsed.get(id);
    if (!parsed) {
      try {
        parsed = parseSchema(text.schemaType, text.schema, this.#referencesOf(text.references));
      } catch (error) {
        parsed = error instanceof GatewayError ? error : new GatewayError('GW_ERR_INVALID_SCHEMA', String(error));
      }
      this.#parsed.set(id, parsed);
    }
    if (parsed instanceof GatewayError) throw parsed;
    return { id, text, parsed };
  }

  /** The subject's compatibility level: its own, else the global one; `own` answers only a subject's own (undefined without). */
  level(subject?: string, own = false): CompatibilityLevel | undefined {
    if (subject === undefined) return this.#levels.get('') ?? DEFAULT_LEVEL;
    return own ? this.#levels.get(subject) : (this.#levels.get(subject) ?? this.#levels.get('') ?? DEFAULT_LEVEL);
  }

  #referencesOf(references: readonly SchemaReference[]): ResolvedReference[] {
    const resolved: ResolvedReference[] = [];
    for (const reference of references) {
      const target = this.version(reference.subject, reference.version, true);
      // A reference's own references come first, so every name is known before it is used.
      resolved.push(...this.#referencesOf(target.references), { name: reference.name, schema: target.schema });
    }
    return resolved;
  }

  /** Parses a schema as given to the API; throws 422 with the library's reason. */
  parse(text: SchemaText): ParsedSchema {
    if (!SCHEMA_TYPES.includes(text.schemaType)) throw new GatewayError('GW_ERR_INVALID_SCHEMA', `Unknown schemaType ${JSON.stringify(text.schemaType)}; use AVRO, PROTOBUF or JSON.`);
    let references: ResolvedReference[];
    try {
      references = this.#referencesOf(text.references);
    } catch (error) {
      if (error instanceof GatewayError) throw new GatewayError('GW_ERR_INVALID_SCHEMA', `A reference cannot be resolved: ${error.detail}`);
      throw error;
    }
    return parseSchema(text.schemaType, text.schema, references);
  }

  /** The version of the subject holding this schema, if any. */
  lookup(subject: string, text: SchemaText, deleted = false): SubjectVersion {
    const versions = this.versions(subject, deleted);
    const canonical = this.parse(text).canonical;
    for (const version of versions) {
      const found = this.version(subject, version, deleted);
      if (found.schemaType === text.schemaType && this.#canonicalOf(found.id) === canonical && sameReferences(found.references, text.references)) return found;
    }
    throw new GatewayError('GW_ERR_SCHEMA_NOT_FOUND', `Subject ${JSON.stringify(subject)} has no version with this schema.`);
  }

  #canonicalOf(id: number): string | undefined {
    try {
      return this.resolve(id).parsed.canonical;
    } catch {
      return undefined;
    }
  }

  /** Why the schema may not follow the subject's versions (all of them, or `version` only), or none. */
  compatibility(subject: string, text: SchemaText, version?: number | 'latest'): string[] {
    const candidate = this.parse(text);
    const level = this.level(subject)!;
    const numbers = version === undefined ? (this.#subjects.has(subject) ? this.versions(subject).slice() : []) : [this.version(subject, version).version];
    const previous = numbers.map((n) => this.resolve(this.version(subject, n).id).parsed);
    // Against one named version the level's direction applies to that version alone.
    return incompatibilities(version === undefined ? level : (level.replace('_TRANSITIVE', '') as CompatibilityLevel), candidate, previous);
  }

  // ---- writing (one at a time in this instance; claims settle races with other instances)

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Registers a schema under a subject (checked against its compatibility level); answers its id, the same id for a schema already there. */
  registerVersion(subject: string, text: SchemaText, { level }: { level?: CompatibilityLevel } = {}): Promise<SubjectVersion> {
    return this.#serially(async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const existing = this.#subjects.has(subject) ? this.#tryLookup(subject, text) : undefined;
        if (existing) return existing;
        const candidate = this.parse(text);
        const active = this.#subjects.has(subject) ? this.versions(subject).filter((n) => n > 0) : [];
        const previous = active.map((n) => this.resolve(this.version(subject, n).id).parsed);
        const problems = incompatibilities(level ?? this.level(subject)!, candidate, previous);
        if (problems.length > 0) {
          throw new GatewayError('GW_ERR_INCOMPATIBLE_SCHEMA', `Schema being registered is incompatible with an earlier schema for subject ${JSON.stringify(subject)}: ${problems.join('; ')}.`, {
            extensions: { incompatibilities: problems },
          });
        }
        const id = this.#idOf(candidate, text) ?? (await this.#claimId(text));
        if (id === undefined) continue;
        const version = Math.max(0, ...(this.#subjects.get(subject)?.keys() ?? [])) + 1;
        const claim = randomUUID();
        await this.store.put(`${REGISTRY_PREFIX}version/${encodeURIComponent(subject)}/${version}/${claim}`, JSON.stringify({ id }), this.timeoutMs);
        if (this.#subjects.get(subject)?.get(version)?.claim === claim) return this.version(subject, version);
      }
      throw new GatewayError('GW_ERR_CONFLICT', `Subject ${JSON.stringify(subject)} is being changed by other registrations at the same time; retry.`);
    });
  }

  #tryLookup(subject: string, text: SchemaText): SubjectVersion | undefined {
    try {
      return this.lookup(subject, text);
    } catch (error) {
      if (error instanceof GatewayError && (error.code === 'GW_ERR_SCHEMA_NOT_FOUND' || error.code === 'GW_ERR_SUBJECT_NOT_FOUND')) return undefined;
      throw error;
    }
  }

  /** An id already holding this schema (ids are shared across subjects, as the registry's are). */
  #idOf(candidate: ParsedSchema, text: SchemaText): number | undefined {
    for (const [id, stored] of this.#ids) {
      if (stored.schemaType === text.schemaType && sameReferences(stored.references, text.references) && this.#canonicalOf(id) === candidate.canonical) return id;
    }
    return undefined;
  }

  async #claimId(text: SchemaText): Promise<number | undefined> {
    const id = Math.max(0, ...this.#ids.keys()) + 1;
    const claim = randomUUID();
    await this.store.put(`${REGISTRY_PREFIX}id/${id}/${claim}`, JSON.stringify({ schemaType: text.schemaType, schema: text.schema, references: text.references }), this.timeoutMs);
    return this.#ids.get(id)?.claim === claim ? id : undefined;
  }

  /**
   * A topic's JSON Schema as a version of the subject `<topic>-value` (the
   * topic name strategy), so registry clients see it: registered without a
   * compatibility check (topic schemas never had one), once per distinct schema.
   */
  async carryOver(topic: string, schema: unknown): Promise<void> {
    await this.registerVersion(`${topic}-value`, { schemaType: 'JSON', schema: JSON.stringify(schema), references: [] }, { level: 'NONE' });
  }

  /** Deletes a subject's versions: softly (they stay readable with `deleted`), or for good once soft-deleted. Answers the versions deleted. */
  deleteSubject(subject: string, permanent: boolean): Promise<number[]> {
    return this.#serially(async () => {
      const versions = this.versions(subject, true);
      const deleted: number[] = [];
      for (const version of versions) if (await this.#deleteVersion(subject, version, permanent)) deleted.push(version);
      return deleted;
    });
  }

  deleteVersion(subject: string, version: number | 'latest', permanent: boolean): Promise<number> {
    return this.#serially(async () => {
      const found = this.version(subject, version, permanent);
      await this.#deleteVersion(subject, found.version, permanent);
      return found.version;
    });
  }

  async #deleteVersion(subject: string, version: number, permanent: boolean): Promise<boolean> {
    const stored = this.#subjects.get(subject)?.get(version);
    if (!stored) return false;
    const key = `${encodeURIComponent(subject)}/${version}`;
    if (!permanent) {
      if (stored.deleted) return false;
      await this.store.put(`${REGISTRY_PREFIX}deleted/${key}`, '{}', this.timeoutMs);
      return true;
    }
    if (!stored.deleted) {
      throw new GatewayError('GW_ERR_CONFLICT', `Version ${version} of subject ${JSON.stringify(subject)} must be deleted softly before it is deleted permanently.`);
    }
    await this.store.put(`${REGISTRY_PREFIX}version/${key}/${stored.claim}`, null, this.timeoutMs);
    await this.store.put(`${REGISTRY_PREFIX}deleted/${key}`, null, this.timeoutMs);
    return true;
  }

  /** Sets the compatibility level, of a subject or (no subject) the default. */
  async setLevel(subject: string | undefined, level: CompatibilityLevel): Promise<void> {
    await this.store.put(subject === undefined ? `${REGISTRY_PREFIX}config` : `${REGISTRY_PREFIX}config/${encodeURIComponent(subject)}`, JSON.stringify({ compatibilityLevel: level }), this.timeoutMs);
  }

  /** Removes a subject's own level (it follows the default again); answers the level it had. */
  async deleteLevel(subject: string): Promise<CompatibilityLevel> {
    const own = this.level(subject, true);
    if (!own) throw new GatewayError('GW_ERR_SUBJECT_NOT_FOUND', `Subject ${JSON.stringify(subject)} has no compatibility level of its own.`);
    await this.store.put(`${REGISTRY_PREFIX}config/${encodeURIComponent(subject)}`, null, this.timeoutMs);
    return own;
  }
}

function sameReferences(a: readonly SchemaReference[], b: readonly SchemaReference[]): boolean {
  return a.length === b.length && a.every((r, i) => r.name === b[i]!.name && r.subject === b[i]!.subject && r.version === b[i]!.version);
}
