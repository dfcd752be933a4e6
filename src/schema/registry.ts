import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { GatewayError, type FieldError, fieldErrors, type Logger } from '../common/index.js';
import type { KeyedEntry } from '../kafka/index.js';
import { UnsupportedPatternError, linearRegExp } from './linear-regexp.js';

/** Keys of the schema registry's entries in the same topic; a topic name cannot hold a slash. */
export const REGISTRY_PREFIX = 'registry/';

// ajv-formats is published as CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** Where schemas are kept: a replicated table (the compacted topic in production). */
export interface SchemaStore {
  start(apply: (entry: KeyedEntry) => void): void;
  caughtUp(): Promise<void>;
  put(key: string, value: string | null, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** A topic's schema as stored and served. */
export interface StoredSchema {
  readonly schema: unknown;
  readonly version: number;
}

interface Entry extends StoredSchema {
  readonly validate: ValidateFunction;
}

/** A stored schema this gateway cannot enforce (stored before it refused such patterns): every value fails, saying why. */
interface UnenforceableEntry extends StoredSchema {
  readonly unenforceable: string;
}

/** A value that is not JSON at all (a text or binary value that does not parse); it fails any schema. */
export const NOT_JSON: unique symbol = Symbol('not JSON');

// One request may hold thousands of bad records; the answer lists the first ones.
const MAX_REPORTED_ERRORS = 100;

/**
 * The JSON Schemas of topics (draft 2020-12, with formats). Each schema is
 * compiled once, when it arrives from the store, and the compiled validator
 * is kept: validating a request never compiles.
 */
export class SchemaRegistry {
  #entries = new Map<string, Entry | UnenforceableEntry>();
  #registryEntries?: (entry: KeyedEntry) => void;
  #stored?: (topic: string, schema: unknown) => Promise<void>;

  constructor(
    private readonly store: SchemaStore,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {}

  /** Compiles a schema or throws GW_ERR_INVALID_SCHEMA with ajv's reason. */
  static compile(schema: unknown): ValidateFunction {
    if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null || Array.isArray(schema))) {
      throw new GatewayError('GW_ERR_INVALID_SCHEMA', 'A JSON Schema must be an object or a boolean.');
    }
    // A fresh ajv per schema: schemas of different topics may use the same
    // $id, and a replaced schema must not linger in a shared instance.
    const ajv = addFormats(
      new Ajv2020({ allErrors: true, strict: true, strictRequired: false, strictTypes: false, validateFormats: true, code: { regExp: linearRegExp } }),
    );
    try {
      return ajv.compile(schema);
    } catch (error) {
      if (error instanceof UnsupportedPatternError) throw new GatewayError('GW_ERR_INVALID_SCHEMA', error.message, { cause: error });
      throw new GatewayError('GW_ERR_INVALID_SCHEMA', `The schema does not compile: ${(error as Error).message}`);
    }
  }

  /** Where the entries of the schema registry sharing the topic (keys under `registry/`) go; set before start. */
  followRegistry(apply: (entry: KeyedEntry) => void): void {
    this.#registryEntries = apply;
  }

  /** What else happens when this instance stores a topic's schema (it becomes a version of the topic's value subject). */
  onStored(carry: (topic: string, schema: unknown) => Promise<void>): void {
    this.#stored = carry;
  }

  /** The topics with a JSON Schema. */
  topics(): string[] {
    return [...this.#entries.keys()];
  }

  /** Follows the store; resolves at once (loading continues in the background). */
  start(): void {
    this.store.start((entry) => this.#apply(entry));
  }

  /** Resolves when every schema stored before start is loaded. */
  ready(): Promise<void> {
    return this.store.caughtUp();
  }

  /** Loads `<topic>.json` files from a folder and stores those that differ from what is stored. */
  async preload(dir: string): Promise<void> {
    await this.ready();
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
      const topic = basename(file, '.json');
      const schema: unknown = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      if (JSON.stringify(this.#entries.get(topic)?.schema) === JSON.stringify(schema)) continue;
      await this.put(topic, schema);
      this.logger.info({ topic, file }, 'preloaded schema');
    }
  }

  get(topic: string): StoredSchema | undefined {
    const entry = this.#entries.get(topic);
    return entry && { schema: entry.schema, version: entry.version };
  }

  has(topic: string): boolean {
    return this.#entries.has(topic);
  }

  /** Stores a schema for the topic; resolves once this instance enforces it. */
  async put(topic: string, schema: unknown): Promise<StoredSchema> {
    SchemaRegistry.compile(schema);
    const version = (this.#entries.get(topic)?.version ?? 0) + 1;
    await this.store.put(topic, JSON.stringify({ schema, version }), this.timeoutMs);
    await this.#stored?.(topic, schema).catch((error: unknown) => this.logger.error({ err: error, topic }, 'the schema is stored but not registered as a subject version'));
    return { schema, version };
  }

  /** Removes the topic's schema; false when it had none. */
  async delete(topic: string): Promise<boolean> {
    if (!this.#entries.has(topic)) return false;
    await this.store.put(topic, null, this.timeoutMs);
    return true;
  }

  /**
   * Checks values against the topic's schema. Each failure names the value's
   * index and a JSON Pointer from the record (so `/value/age`). No schema,
   * no failures.
   */
  validate(topic: string, values: readonly unknown[]): FieldError[] {
    const entry = this.#entries.get(topic);
    if (!entry) return [];
    const errors: FieldError[] = [];
    for (let index = 0; index < values.length && errors.length < MAX_REPORTED_ERRORS; index++) {
      const value = values[index];
      if ('unenforceable' in entry) {
        errors.push({ index, pointer: '/value', message: entry.unenforceable });
      } else if (value === NOT_JSON) {
        errors.push({ index, pointer: '/value', message: 'the value is not JSON, and the topic has a JSON Schema' });
      } else if (!entry.validate(value)) {
        for (const e of fieldErrors(entry.validate.errors, '/value')) errors.push({ index, ...e });
      }
    }
    return errors.slice(0, MAX_REPORTED_ERRORS);
  }

  async stop(): Promise<void> {
    await this.store.stop();
  }

  #apply({ key, value }: KeyedEntry): void {
    if (key.startsWith(REGISTRY_PREFIX)) {
      this.#registryEntries?.({ key, value });
      return;
    }
    if (value === null) {
      this.#entries.delete(key);
      return;
    }
    let stored: StoredSchema | undefined;
    try {
      stored = JSON.parse(value) as StoredSchema;
      this.#entries.set(key, { schema: stored.schema, version: stored.version, validate: SchemaRegistry.compile(stored.schema) });
    } catch (error) {
      if (stored && error instanceof GatewayError && error.cause instanceof UnsupportedPatternError) {
        // Stored before such patterns were refused: fail closed rather than let every value through.
        const unenforceable = `the topic's schema cannot be enforced by this gateway until an admin replaces it: ${error.cause.message}`;
        this.#entries.set(key, { schema: stored.schema, version: stored.version, unenforceable });
        this.logger.error({ topic: key, pattern: error.cause.pattern }, 'a stored schema has a pattern this gateway refuses; produce to the topic is refused until the schema is replaced');
        return;
      }
      // Another writer stored something we cannot use; keep the last good schema.
      this.logger.error({ err: error, topic: key }, 'ignoring a stored schema that does not compile');
    }
  }
}
