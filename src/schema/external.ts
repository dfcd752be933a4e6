/**
 * A schema registry elsewhere (SCHEMA_REGISTRY_URL), spoken to over the
 * Confluent Schema Registry REST API with basic or bearer auth and TLS
 * settings of its own. Schemas by id are kept for good once fetched (ids
 * are immutable); a subject's latest version for a short while. A registry
 * that cannot be reached, answers 5xx or refuses the gateway's credentials
 * is GW_ERR_REGISTRY_UNAVAILABLE (503 with Retry-After): a record is never
 * written without its schema.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ExternalRegistryConfig } from '../config.js';
import { GatewayError, type ErrorCode, type Logger } from '../common/index.js';
import { parseSchema, type ResolvedReference, type SchemaType } from './formats/index.js';
import type { SchemaSource } from './source.js';
import type { SchemaReference, SchemaText } from './subjects.js';
import type { KnownSchema } from './wire.js';

const MEDIA_TYPE = 'application/vnd.schemaregistry.v1+json';
const RETRY_AFTER_SECONDS = 5;
// An id the registry did not have is not asked for again by reads for this long (bytes that only look like the wire format would otherwise ask for every record).
const MISSING_ID_MS = 60_000;

interface RegistrySchema {
  readonly id?: number;
  readonly version?: number;
  readonly subject?: string;
  readonly schema: string;
  readonly schemaType?: SchemaType;
  readonly references?: SchemaReference[];
}

/** The registry's error codes as the gateway's. */
function errorCode(status: number, code: number | undefined): ErrorCode {
  if (code === 40401) return 'GW_ERR_SUBJECT_NOT_FOUND';
  if (code === 40402) return 'GW_ERR_VERSION_NOT_FOUND';
  if (code === 40403 || status === 404) return 'GW_ERR_SCHEMA_NOT_FOUND';
  if (status === 409) return 'GW_ERR_INCOMPATIBLE_SCHEMA';
  if (code === 42201 || status === 422) return 'GW_ERR_INVALID_SCHEMA';
  return 'GW_ERR_REGISTRY_UNAVAILABLE';
}

export class ExternalRegistry implements SchemaSource {
  readonly #byId = new Map<number, KnownSchema | GatewayError>();
  readonly #fetching = new Map<number, Promise<KnownSchema>>();
  readonly #missing = new Map<number, number>();
  readonly #latest = new Map<string, { readonly at: number; readonly found: Promise<KnownSchema & { subject: string; version: number }> }>();

  constructor(
    private readonly config: ExternalRegistryConfig,
    private readonly logger: Logger,
  ) {}

  /** For reads: an id already fetched; an id not yet seen is fetched in the background, so the records after it decode. */
  cached(id: number): KnownSchema | Error | undefined {
    const known = this.#byId.get(id);
    if (known !== undefined) return known;
    const missingSince = this.#missing.get(id);
    if (missingSince !== undefined && Date.now() - missingSince < MISSING_ID_MS) return undefined;
    if (!this.#fetching.has(id)) {
      void this.byId(id).catch((error: unknown) => {
        if (error instanceof GatewayError && error.code === 'GW_ERR_SCHEMA_NOT_FOUND') this.#missing.set(id, Date.now());
      });
    }
    return undefined;
  }

  byId(id: number): Promise<KnownSchema> {
    const known = this.#byId.get(id);
    if (known instanceof GatewayError) return Promise.reject(known);
    if (known) return Promise.resolve(known);
    let fetching = this.#fetching.get(id);
    if (!fetching) {
      fetching = this.#fetchId(id).finally(() => this.#fetching.delete(id));
      this.#fetching.set(id, fetching);
    }
    return fetching;
  }

  async #fetchId(id: number): Promise<KnownSchema> {
    const found = await this.#call<RegistrySchema>('GET', `/schemas/ids/${id}`);
    const uses = await this.#call<Array<{ subject: string; version: number }>>('GET', `/schemas/ids/${id}/versions`).catch(() => []);
    try {
      const known = await this.#known(id, found, uses);
      this.#byId.set(id, known);
      return known;
    } catch (error) {
      // A schema this gateway cannot compile stays so: ids are immutable.
      if (error instanceof GatewayError && error.code === 'GW_ERR_INVALID_SCHEMA') this.#byId.set(id, error);
      throw error;
    }
  }

  async #known(id: number, found: RegistrySchema, uses: ReadonlyArray<{ subject: string; version: number }>): Promise<KnownSchema> {
    const type = found.schemaType ?? 'AVRO';
    const parsed = parseSchema(type, found.schema, await this.#references(found.references ?? []));
    return { id, type, parsed, uses };
  }

  async #references(references: readonly SchemaReference[]): Promise<ResolvedReference[]> {
    const resolved: ResolvedReference[] = [];
    for (const reference of references) {
      const target = await this.#call<RegistrySchema>('GET', `/subjects/${encodeURIComponent(reference.subject)}/versions/${reference.version}`);
      resolved.push(...(await this.#references(target.references ?? [])), { name: reference.name, schema: target.schema });
    }
    return resolved;
  }

  byVersion(subject: string, version: number | 'latest'): Promise<KnownSchema & { subject: string; version: number }> {
    if (version === 'latest') {
      const kept = this.#latest.get(subject);
      if (kept && Date.now() - kept.at < this.config.latestTtlMs) return kept.found;
      const found = this.#fetchVersion(subject, version);
      this.#latest.set(subject, { at: Date.now(), found });
      found.catch(() => this.#latest.delete(subject));
      return found;
    }
    return this.#fetchVersion(subject, version);
  }

  async #fetchVersion(subject: string, version: number | 'latest'): Promise<KnownSchema & { subject: string; version: number }> {
    const found = await this.#call<RegistrySchema>('GET', `/subjects/${encodeURIComponent(subject)}/versions/${version}`);
    const id = found.id ?? 0;
    const known = this.#byId.get(id);
    const schema = known instanceof GatewayError ? Promise.reject(known) : known ? known : await this.#known(id, found, [{ subject, version: found.version ?? 0 }]);
    if (!known) this.#byId.set(id, schema as KnownSchema);
    return { ...(await schema), subject, version: found.version ?? 0 };
  }

  async register(subject: string, text: SchemaText): Promise<number> {
    const body = { schema: text.schema, schemaType: text.schemaType, ...(text.references.length > 0 ? { references: text.references } : {}) };
    const { id } = await this.#call<{ id: number }>('POST', `/subjects/${encodeURIComponent(subject)}/versions`, body);
    this.#latest.delete(subject);
    return id;
  }

  /** One request to the registry; its errors as the gateway's. */
  #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(`${this.config.url}${path}`);
    const headers: Record<string, string> = { accept: MEDIA_TYPE };
    if (body !== undefined) headers['content-type'] = MEDIA_TYPE;
    if (this.config.basicAuth) headers.authorization = `Basic ${Buffer.from(this.config.basicAuth).toString('base64')}`;
    if (this.config.bearerToken) headers.authorization = `Bearer ${this.config.bearerToken}`;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const unavailable = (why: string) =>
      new GatewayError('GW_ERR_REGISTRY_UNAVAILABLE', `The schema registry at ${url.origin} ${why}; nothing was produced. Retry shortly.`, { retryAfterSeconds: RETRY_AFTER_SECONDS });
    return new Promise<T>((resolve, reject) => {
      const req = send(
        url,
        { method, headers, timeout: this.config.timeoutMs, ca: this.config.ca, cert: this.config.cert, key: this.config.key, rejectUnauthorized: this.config.rejectUnauthorized },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (error) => reject(unavailable(`broke off its answer (${error.message})`)));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              parsed = undefined;
            }
            if (status >= 200 && status < 300 && parsed !== undefined) {
              resolve(parsed as T);
              return;
            }
            const answer = parsed as { error_code?: number; message?: string } | undefined;
            if (status === 401 || status === 403) {
              this.logger.error({ status, url: url.origin }, 'the schema registry refused the credentials of SCHEMA_REGISTRY_*');
              reject(unavailable(`refused the gateway's credentials (${status})`));
              return;
            }
            const code = errorCode(status, answer?.error_code);
            if (code === 'GW_ERR_REGISTRY_UNAVAILABLE') reject(unavailable(`answered ${status}${answer?.message ? `: ${answer.message}` : ''}`));
            else reject(new GatewayError(code, `The schema registry answered: ${answer?.message ?? `status ${status}`}.`));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.config.timeoutMs} ms`)));
      req.on('error', (error) => reject(unavailable(`cannot be reached (${error.message})`)));
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }
}
