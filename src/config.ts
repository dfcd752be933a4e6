/**
 * The gateway's configuration, read once from environment variables at
 * start, checked as a whole and frozen. Every variable is documented in the
 * README; a bad value stops the process with one message naming each
 * offending variable.
 */
import zlib from 'node:zlib';
import { readFileSync } from 'node:fs';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';
export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface KafkaTlsConfig {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly rejectUnauthorized: boolean;
}

export interface KafkaSaslConfig {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: string;
}

export const ACL_OPERATIONS = ['produce', 'consume', 'describe', 'admin'] as const;
export type AclOperation = (typeof ACL_OPERATIONS)[number];

export interface AclRule {
  /**
   * Principal names (bare, or `user:<name>`), `role:<role>` for anyone
   * holding that role, or `*` for every authenticated principal. Names and
   * roles never match each other.
   */
  readonly principals: readonly string[];
  /** Exact topic names, prefixes ending in `*`, or `*`. */
  readonly topics: readonly string[];
  /**
   * Consumer groups the rule's operations apply to, written as topics are;
   * left out, the rule's `topics` patterns name its groups too.
   */
  readonly groups?: readonly string[];
  readonly operations: readonly AclOperation[];
}

export type AuthMode = 'none' | 'api-key' | 'jwt';

export interface ApiKeyEntry {
  readonly name: string;
  /** Hex SHA-256 of the key: the key itself is never kept. */
  readonly sha256: string;
  readonly roles: readonly string[];
}

export interface JwtConfig {
  /** HS256 shared secret. */
  readonly secret?: string;
  /** A JSON Web Key Set (RS/ES public keys) read from a file... */
  readonly jwks?: { readonly keys: readonly object[] };
  /** ...or fetched (and cached) from a URL. */
  readonly jwksUrl?: string;
  readonly issuer: string;
  readonly audience: string;
  /** Claim holding the principal's roles (an array of strings). */
  readonly rolesClaim: string;
  /** Accept tokens without `exp` (valid forever); off by default, and warned about at start. */
  readonly allowNoExpiry: boolean;
}

export interface AuthConfig {
  readonly mode: AuthMode;
  readonly apiKeyHeader: string;
  readonly apiKeys: readonly ApiKeyEntry[];
  readonly jwt?: JwtConfig;
  readonly acl: readonly AclRule[];
  /** Accept credentials in an `access_token` query parameter on WebSocket upgrades. */
  readonly allowQueryToken: boolean;
  readonly rateLimit: { readonly perSecond: number; readonly burst: number };
  /** Failed authentications per client address: a token bucket; `perMinute` 0 turns it off. */
  readonly failureLimit: { readonly perMinute: number; readonly burst: number };
  /** Browser origins allowed for CORS and WebSocket upgrades; `*` allows any. */
  readonly allowedOrigins: readonly string[];
  /**
   * Host names requests may name in their Host header (`*` for any, a
   * leading `.` for a domain and its subdomains): loopback names by default
   * on a loopback listener, against DNS rebinding; any elsewhere.
   */
  readonly allowedHosts: readonly string[];
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly logLevel: LogLevel;
  /** Largest request body accepted, in bytes; checked before parsing. */
  readonly bodyLimitBytes: number;
  /** How long in-flight requests may run on after SIGTERM/SIGINT. */
  readonly shutdownTimeoutMs: number;
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly clientId: string;
    readonly connectionTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly tls?: KafkaTlsConfig;
    readonly sasl?: KafkaSaslConfig;
  };
  readonly produce: {
    /** How long a send waits to share a batch with concurrent ones. 0 sends at once. */
    readonly lingerMs: number;
    /** Whether concurrent requests share batches; off, every request is its own batch (for comparison). */
    readonly coalesce: boolean;
    readonly compression: Compression;
    /** A produce request fails with 503 after this long without an answer. */
    readonly timeoutMs: number;
    /** Bytes of record data the gateway holds in flight before shedding load. */
    readonly maxInFlightBytes: number;
    /** Create unknown topics on produce instead of answering 404. */
    readonly autoCreateTopics: boolean;
  };
  readonly schemas: {
    /** Folder of `<topic>.json` schema files loaded at start, if set. */
    readonly preloadDir?: string;
    /** A schema registry elsewhere (SCHEMA_REGISTRY_URL); without one, the gateway's own registry serves the registry formats. */
    readonly registry?: ExternalRegistryConfig;
    /** How a subject is named from a topic and a schema: `<topic>-value` (topic), the record's full name (record), or both (topic_record). */
    readonly subjectStrategy: SubjectStrategy;
  };
  readonly metadata: {
    /** Metadata answers are cached this long; admin changes invalidate at once. */
    readonly cacheTtlMs: number;
    /** A metadata or admin request that Kafka has not answered by then fails with 503. */
    readonly timeoutMs: number;
  };
  readonly auth: AuthConfig;
  /** Confluent REST Proxy v2 consumer instances (docs/confluent-v2.md). */
  readonly consumers: {
    /** An instance nobody used for this long is deleted and leaves its group (Confluent's consumer.instance.timeout.ms). */
    readonly instanceTimeoutMs: number;
    /** Instances one gateway process holds at most; creating more answers 429. */
    readonly maxInstances: number;
    /** How long a read waits for records unless the instance or the request asks for less (consumer.request.timeout.ms). */
    readonly requestTimeoutMs: number;
    /** Most bytes of keys and values one read returns (consumer.request.max.bytes). */
    readonly requestMaxBytes: number;
    /**
     * Record bytes an instance fetches ahead of its reads and holds between
     * them; past this its partitions stop asking until a read takes some.
     */
    readonly bufferBytes: number;
    /**
     * Record bytes all instances of the process together fetch ahead of
     * their reads; past this, an instance fetches only when its buffer is
     * empty (that is, when a read waits for it).
     */
    readonly bufferTotalBytes: number;
    /**
     * The URL this gateway process is reached at directly, for the
     * `base_uri` of the instances it creates; the request's own host when
     * unset. Behind a load balancer, each process needs its own.
     */
    readonly advertisedUrl?: string;
  };
  readonly ws: {
    readonly maxConnections: number;
    /** Connections one client address (an IPv6 /64) may hold at once; 0 for no cap. */
    readonly maxConnectionsPerAddress: number;
    /** Connections one authenticated principal may hold at once; 0 for no cap. */
    readonly maxConnectionsPerPrincipal: number;
    readonly maxSubscriptionsPerConnection: number;
    /** Largest frame a client may send; larger ones close the socket with 1009. */
    readonly maxFrameBytes: number;
    /** Unsent bytes per connection (socket buffer plus queued records) past which its partitions pause. */
    readonly maxBufferedBytes: number;
    readonly pingIntervalMs: number;
    /** How often `auto` ack mode commits what was written. */
    readonly autoCommitIntervalMs: number;
    readonly sessionTimeoutMs: number;
    /** Durable members' group protocol: `consumer` (KIP-848) where the brokers take it, else classic; `classic` always. */
    readonly groupProtocol: 'consumer' | 'classic';
    readonly fetchMaxWaitMs: number;
  };
  readonly sse: {
    /** Open event streams per process; more are refused with 503. */
    readonly maxStreams: number;
    /** Streams one client address (an IPv6 /64) may hold open; 0 for no cap. */
    readonly maxStreamsPerAddress: number;
    /** Streams one authenticated principal may hold open; 0 for no cap. */
    readonly maxStreamsPerPrincipal: number;
    /** A comment line is written this often on an idle stream, so that proxies keep it open. */
    readonly keepaliveMs: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const KNOWN_LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const SASL_MECHANISMS: readonly SaslMechanism[] = ['plain', 'scram-sha-256', 'scram-sha-512'];
// Zstandard comes from Node's zlib, which has it from Node 22.15; the others need nothing installed.
const ZSTD_AVAILABLE = typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';
const COMPRESSIONS: readonly Compression[] = ZSTD_AVAILABLE ? ['none', 'gzip', 'snappy', 'lz4', 'zstd'] : ['none', 'gzip', 'snappy', 'lz4'];
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2 };

/** Reads variables one by one and collects every problem instead of stopping at the first. */
class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      this.problems.push(`${name}=${JSON.stringify(value)} must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return Number(value);
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['true', '1', 'yes'].includes(value)) return true;
    if (['false', '0', 'no'].includes(value)) return false;
    this.problems.push(`${name}=${JSON.stringify(value)} must be true or false`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.problems.push(`${name}=${JSON.stringify(value)} must be one of ${allowed.join(', ')}`);
    return fallback;
  }

  /** A size such as 1048576, 512kb or 1mb. */
  bytes(name: string, fallback: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const match = /^(\d+)\s*([a-z]*)$/i.exec(value);
    const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
    const bytes = match && unit ? Number(match[1]) * unit : NaN;
    if (!(bytes >= 1 && bytes <= max)) {
      this.problems.push(`${name}=${JSON.stringify(value)} must be a size from 1 byte to ${max} bytes, like 1048576, 512kb or 1mb`);
      return fallback;
    }
    return bytes;
  }

  /** A JSON file, parsed; `check` returns problems with its shape. */
  jsonFile<T>(name: string, check: (value: unknown) => string | undefined): T | undefined {
    const text = this.file(name);
    if (text === undefined) return undefined;
    try {
      const value: unknown = JSON.parse(text);
      const problem = check(value);
      if (problem) {
        this.problems.push(`${name}: ${problem}`);
        return undefined;
      }
      return value as T;
    } catch (error) {
      this.problems.push(`${name} is not valid JSON: ${(error as Error).message}`);
      return undefined;
    }
  }

  file(name: string): string | undefined {
    const path = this.raw(name);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      this.problems.push(`${name}=${JSON.stringify(path)} cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
      return undefined;
    }
  }
}

function parseBrokers(reader: EnvReader): string[] {
  const value = reader.string('KAFKA_BROKERS', 'localhost:9092');
  const brokers = value.split(',').map((b) => b.trim()).filter(Boolean);
  const bad = brokers.filter((b) => !/^[^\s:/]+:\d{1,5}$/.test(b) || Number(b.split(':').pop()) > 65535);
  if (brokers.length === 0 || bad.length > 0) {
    reader.problems.push(`KAFKA_BROKERS=${JSON.stringify(value)} must be a comma-separated list of host:port`);
  }
  return brokers;
}

export const SUBJECT_STRATEGIES = ['topic', 'record', 'topic_record'] as const;
export type SubjectStrategy = (typeof SUBJECT_STRATEGIES)[number];

export interface ExternalRegistryConfig {
  /** The registry's base URL, path included (requests go to `<url>/subjects/...`). */
  readonly url: string;
  /** `user:password` for HTTP basic auth. */
  readonly basicAuth?: string;
  readonly bearerToken?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly rejectUnauthorized: boolean;
  /** How long one request to the registry may take before it counts as unreachable. */
  readonly timeoutMs: number;
  /** How long the latest version of a subject is kept before it is asked again. */
  readonly latestTtlMs: number;
}

function parseRegistry(reader: EnvReader): ExternalRegistryConfig | undefined {
  const url = reader.raw('SCHEMA_REGISTRY_URL');
  const basicAuth = reader.raw('SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO');
  const bearerToken = reader.raw('SCHEMA_REGISTRY_BEARER_TOKEN');
  const ca = reader.file('SCHEMA_REGISTRY_TLS_CA_FILE');
  const cert = reader.file('SCHEMA_REGISTRY_TLS_CERT_FILE');
  const key = reader.file('SCHEMA_REGISTRY_TLS_KEY_FILE');
  const rejectUnauthorized = reader.bool('SCHEMA_REGISTRY_TLS_REJECT_UNAUTHORIZED', true);
  const timeoutMs = reader.int('SCHEMA_REGISTRY_TIMEOUT_MS', 5000, 100, 120_000);
  const latestTtlMs = reader.int('SCHEMA_REGISTRY_LATEST_TTL_MS', 5000, 0, 3_600_000);
  if (url === undefined) {
    if (basicAuth ?? bearerToken ?? ca ?? cert ?? key) reader.problems.push('SCHEMA_REGISTRY_* settings are set but SCHEMA_REGISTRY_URL is not');
    return undefined;
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    reader.problems.push(`SCHEMA_REGISTRY_URL must be an http or https URL, not ${JSON.stringify(url)}`);
  }
  if (parsed && parsed.protocol !== 'http:' && parsed.protocol !== 'https:') reader.problems.push(`SCHEMA_REGISTRY_URL must be an http or https URL, not ${JSON.stringify(url)}`);
  if (basicAuth !== undefined && bearerToken !== undefined) reader.problems.push('SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO and SCHEMA_REGISTRY_BEARER_TOKEN are exclusive');
  if (basicAuth !== undefined && !basicAuth.includes(':')) reader.problems.push('SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO must be user:password');
  if ((cert === undefined) !== (key === undefined)) reader.problems.push('SCHEMA_REGISTRY_TLS_CERT_FILE and SCHEMA_REGISTRY_TLS_KEY_FILE must be set together');
  return Object.freeze({ url: url.replace(/\/+$/, ''), basicAuth, bearerToken, ca, cert, key, rejectUnauthorized, timeoutMs, latestTtlMs });
}

function parseTls(reader: EnvReader): KafkaTlsConfig | undefined {
  const enabled = reader.bool('KAFKA_TLS', false);
  const ca = reader.file('KAFKA_TLS_CA_FILE');
  const cert = reader.file('KAFKA_TLS_CERT_FILE');
  const key = reader.file('KAFKA_TLS_KEY_FILE');
  const rejectUnauthorized = reader.bool('KAFKA_TLS_REJECT_UNAUTHORIZED', true);
  if ((cert === undefined) !== (key === undefined)) {
    reader.problems.push('KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE must be set together');
  }
  if (!enabled) {
    if (ca ?? cert ?? key) reader.problems.push('KAFKA_TLS_* files are set but KAFKA_TLS is not true');
    return undefined;
  }
  return Object.freeze({ ca, cert, key, rejectUnauthorized });
}

function parseSasl(reader: EnvReader): KafkaSaslConfig | undefined {
  const mechanism = reader.raw('KAFKA_SASL_MECHANISM');
  const username = reader.raw('KAFKA_SASL_USERNAME');
  const password = reader.raw('KAFKA_SASL_PASSWORD');
  if (mechanism === undefined) {
    if (username ?? password) reader.problems.push('KAFKA_SASL_USERNAME/PASSWORD are set but KAFKA_SASL_MECHANISM is not');
    return undefined;
  }
  const checked = reader.oneOf('KAFKA_SASL_MECHANISM', SASL_MECHANISMS, 'plain');
  if (username === undefined || password === undefined) {
    reader.problems.push('KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
    return undefined;
  }
  return Object.freeze({ mechanism: checked, username, password });
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function checkAcl(value: unknown): string | undefined {
  const rules = (value as { rules?: unknown })?.rules;
  if (!Array.isArray(rules)) return 'must be {"rules": [...]}';
  for (const [i, rule] of rules.entries()) {
    const r = rule as Partial<Record<keyof AclRule, unknown>>;
    if (!isStringArray(r.principals) || !isStringArray(r.topics) || !isStringArray(r.operations)) {
      return `rules[${i}] needs "principals", "topics" and "operations" as lists of strings`;
    }
    if (r.groups !== undefined && !isStringArray(r.groups)) return `rules[${i}].groups must be a list of strings (group names, prefixes ending in *, or *)`;
    const bad = r.operations.filter((op) => !(ACL_OPERATIONS as readonly string[]).includes(op));
    if (bad.length > 0) return `rules[${i}].operations has ${bad.join(', ')}; allowed: ${ACL_OPERATIONS.join(', ')}`;
    const empty = r.principals.find((p) => p === '' || p === 'role:' || p === 'user:');
    if (empty !== undefined) return `rules[${i}].principals has ${JSON.stringify(empty)}; write a name, user:<name>, role:<role> or *`;
  }
  return undefined;
}

function checkApiKeys(value: unknown): string | undefined {
  if (!Array.isArray(value)) return 'must be a list of {"name", "sha256", "roles"?}';
  for (const [i, entry] of value.entries()) {
    const e = entry as Partial<Record<keyof ApiKeyEntry, unknown>>;
    if (typeof e.name !== 'string' || typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(e.sha256)) {
      return `[${i}] needs "name" and "sha256" (64 hex digits: the SHA-256 of the key, never the key)`;
    }
    if (e.roles !== undefined && !isStringArray(e.roles)) return `[${i}].roles must be a list of strings`;
  }
  return undefined;
}

function checkJwks(value: unknown): string | undefined {
  return Array.isArray((value as { keys?: unknown })?.keys) ? undefined : 'must be a JSON Web Key Set {"keys": [...]}';
}

/** Names of this machine that a web page elsewhere cannot rebind; the default Host allow-list on a loopback listener. */
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function parseAllowedHosts(r: EnvReader, listenHost: string): string[] {
  const listed = r.string('ALLOWED_HOSTS', '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
  for (const host of listed) {
    if (host !== '*' && !/^(\.?[a-z0-9_-]+(\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])$/.test(host)) {
      r.problems.push(`ALLOWED_HOSTS has ${JSON.stringify(host)}; list host names without port, like gateway.example.com, .example.com or [::1], or *`);
    }
  }
  if (listed.length > 0) return listed;
  if (!isLoopbackHost(listenHost)) return ['*'];
  const own = listenHost.includes(':') ? `[${listenHost}]` : listenHost;
  return LOOPBACK_HOSTS.includes(own) ? LOOPBACK_HOSTS : [...LOOPBACK_HOSTS, own];
}

function parseAuth(r: EnvReader, listenHost: string): AuthConfig {
  const mode = r.oneOf<AuthMode>('AUTH_MODE', ['none', 'api-key', 'jwt'], 'none');
  const acl = r.jsonFile<{ rules: AclRule[] }>('AUTH_ACL_FILE', checkAcl);
  const apiKeys = (r.jsonFile<ApiKeyEntry[]>('AUTH_API_KEYS_FILE', checkApiKeys) ?? []).map((k) => ({
    name: k.name,
    sha256: k.sha256.toLowerCase(),
    roles: k.roles ?? [],
  }));
  let jwt: JwtConfig | undefined;
  if (mode !== 'none' && !acl) r.problems.push(`AUTH_MODE=${mode} needs AUTH_ACL_FILE: without rules every request would be denied`);
  if (mode === 'api-key' && apiKeys.length === 0) r.problems.push('AUTH_MODE=api-key needs AUTH_API_KEYS_FILE with at least one key');
  if (mode === 'jwt') {
    const secret = r.raw('AUTH_JWT_SECRET');
    const jwks = r.jsonFile<{ keys: object[] }>('AUTH_JWT_JWKS_FILE', checkJwks);
    const jwksUrl = r.raw('AUTH_JWT_JWKS_URL');
    const issuer = r.raw('AUTH_JWT_ISSUER');
    const audience = r.raw('AUTH_JWT_AUDIENCE');
    const sources = [secret, jwks ?? r.raw('AUTH_JWT_JWKS_FILE'), jwksUrl].filter((x) => x !== undefined).length;
    if (sources !== 1) r.problems.push('AUTH_MODE=jwt needs exactly one of AUTH_JWT_SECRET, AUTH_JWT_JWKS_FILE, AUTH_JWT_JWKS_URL');
    if (secret !== undefined && secret.length < 32) r.problems.push('AUTH_JWT_SECRET must be at least 32 characters for HS256');
    if (jwksUrl !== undefined && !/^https?:\/\//.test(jwksUrl)) r.problems.push('AUTH_JWT_JWKS_URL must be an http(s) URL');
    if (!issuer) r.problems.push('AUTH_MODE=jwt needs AUTH_JWT_ISSUER');
    if (!audience) r.problems.push('AUTH_MODE=jwt needs AUTH_JWT_AUDIENCE');
    jwt = {
      secret,
      jwks,
      jwksUrl,
      issuer: issuer ?? '',
      audience: audience ?? '',
      rolesClaim: r.string('AUTH_JWT_ROLES_CLAIM', 'roles'),
      allowNoExpiry: r.bool('AUTH_JWT_ALLOW_NO_EXP', false),
    };
  }
  const origins = r.string('ALLOWED_ORIGINS', '').split(',').map((o) => o.trim()).filter(Boolean);
  for (const origin of origins) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) r.problems.push(`ALLOWED_ORIGINS has ${JSON.stringify(origin)}; origins look like https://app.example.com`);
  }
  return {
    mode,
    apiKeyHeader: r.string('AUTH_API_KEY_HEADER', 'x-api-key').toLowerCase(),
    apiKeys,
    jwt,
    acl: acl?.rules ?? [],
    allowQueryToken: r.bool('AUTH_ALLOW_QUERY_TOKEN', true),
    rateLimit: { perSecond: r.int('RATE_LIMIT_PER_SECOND', 0, 0, 1_000_000), burst: r.int('RATE_LIMIT_BURST', 50, 1, 1_000_000) },
    failureLimit: {
      perMinute: r.int('AUTH_FAILURE_RATE_PER_MINUTE', 60, 0, 1_000_000),
      burst: r.int('AUTH_FAILURE_BURST', 20, 1, 1_000_000),
    },
    allowedOrigins: origins,
    allowedHosts: parseAllowedHosts(r, listenHost),
  };
}

function parseAdvertisedUrl(r: EnvReader): string | undefined {
  const value = r.raw('ADVERTISED_URL');
  if (value === undefined) return undefined;
  if (!/^https?:\/\/[^/\s?#]+(\/[^\s?#]*)?$/.test(value)) {
    r.problems.push(`ADVERTISED_URL=${JSON.stringify(value)} must be the http(s) URL of this gateway process, like http://gateway-2.internal:8080`);
    return undefined;
  }
  return value.replace(/\/+$/, '');
}

/** Builds the frozen configuration, or throws a ConfigError naming every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const r = new EnvReader(env);
  const host = r.string('HOST', '127.0.0.1');
  const port = r.int('PORT', 8080, 0, 65535);
  const preloadDir = r.raw('SCHEMAS_DIR');
  const connectionTimeoutMs = r.int('KAFKA_CONNECTION_TIMEOUT_MS', 3000, 100, 600_000);
  const requestTimeoutMs = r.int('KAFKA_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000);
  const config: Config = {
    port,
    host,
    logLevel: r.oneOf('LOG_LEVEL', KNOWN_LOG_LEVELS, 'info'),
    bodyLimitBytes: r.bytes('BODY_LIMIT', 1024 * 1024, 1024 ** 3),
    shutdownTimeoutMs: r.int('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    kafka: {
      brokers: parseBrokers(r),
      clientId: r.string('KAFKA_CLIENT_ID', 'kafka-gateway'),
      connectionTimeoutMs,
      requestTimeoutMs,
      tls: parseTls(r),
      sasl: parseSasl(r),
    },
    produce: {
      lingerMs: r.int('PRODUCE_LINGER_MS', 2, 0, 1000),
      coalesce: r.bool('PRODUCE_COALESCE', true),
      compression: r.oneOf('PRODUCE_COMPRESSION', COMPRESSIONS, 'none'),
      timeoutMs: r.int('PRODUCE_TIMEOUT_MS', 10_000, 100, 600_000),
      maxInFlightBytes: r.bytes('PRODUCE_MAX_IN_FLIGHT', 64 * 1024 ** 2, 16 * 1024 ** 3),
      autoCreateTopics: r.bool('AUTO_CREATE_TOPICS', false),
    },
    schemas: { preloadDir, registry: parseRegistry(r), subjectStrategy: r.oneOf('SCHEMA_REGISTRY_SUBJECT_STRATEGY', SUBJECT_STRATEGIES, 'topic') },
    metadata: {
      cacheTtlMs: r.int('METADATA_CACHE_TTL_MS', 2000, 0, 3_600_000),
      timeoutMs: r.int('METADATA_TIMEOUT_MS', 10_000, 100, 600_000),
    },
    auth: parseAuth(r, host),
    consumers: {
      instanceTimeoutMs: r.int('CONSUMER_INSTANCE_TIMEOUT_MS', 300_000, 1000, 86_400_000),
      maxInstances: r.int('CONSUMER_MAX_INSTANCES', 1000, 0, 1_000_000),
      requestTimeoutMs: r.int('CONSUMER_REQUEST_TIMEOUT_MS', 1000, 1, 600_000),
      requestMaxBytes: r.bytes('CONSUMER_REQUEST_MAX_BYTES', 64 * 1024 ** 2, 1024 ** 3),
      bufferBytes: r.bytes('CONSUMER_BUFFER_BYTES', 8 * 1024 ** 2, 1024 ** 3),
      bufferTotalBytes: r.bytes('CONSUMER_BUFFER_TOTAL_BYTES', 256 * 1024 ** 2, 64 * 1024 ** 3),
      advertisedUrl: parseAdvertisedUrl(r),
    },
    ws: {
      maxConnections: r.int('WS_MAX_CONNECTIONS', 2000, 1, 1_000_000),
      maxConnectionsPerAddress: r.int('WS_MAX_CONNECTIONS_PER_ADDRESS', 200, 0, 1_000_000),
      maxConnectionsPerPrincipal: r.int('WS_MAX_CONNECTIONS_PER_PRINCIPAL', 500, 0, 1_000_000),
      maxSubscriptionsPerConnection: r.int('WS_MAX_SUBSCRIPTIONS', 20, 1, 10_000),
      maxFrameBytes: r.bytes('WS_MAX_FRAME', 1024 * 1024, 1024 ** 3),
      maxBufferedBytes: r.bytes('WS_MAX_BUFFERED', 4 * 1024 * 1024, 1024 ** 3),
      pingIntervalMs: r.int('WS_PING_INTERVAL_MS', 30_000, 100, 3_600_000),
      autoCommitIntervalMs: r.int('WS_AUTO_COMMIT_INTERVAL_MS', 1000, 10, 600_000),
      sessionTimeoutMs: r.int('WS_SESSION_TIMEOUT_MS', 10_000, 1000, 600_000),
      groupProtocol: r.oneOf('WS_GROUP_PROTOCOL', ['consumer', 'classic'] as const, 'consumer'),
      fetchMaxWaitMs: r.int('WS_FETCH_MAX_WAIT_MS', 100, 1, 10_000),
    },
    sse: {
      maxStreams: r.int('SSE_MAX_STREAMS', 2000, 1, 1_000_000),
      maxStreamsPerAddress: r.int('SSE_MAX_STREAMS_PER_ADDRESS', 200, 0, 1_000_000),
      maxStreamsPerPrincipal: r.int('SSE_MAX_STREAMS_PER_PRINCIPAL', 500, 0, 1_000_000),
      keepaliveMs: r.int('SSE_KEEPALIVE_MS', 15_000, 100, 3_600_000),
    },
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
