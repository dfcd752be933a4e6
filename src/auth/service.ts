import type { AuthConfig } from '../config.js';
import { GatewayError, isInternalTopic } from '../common/index.js';
import { Acl, type AclOperation, type Principal } from './acl.js';
import { createAuthenticator, type Authenticator, type Credentials } from './authenticator.js';
import { RateLimiter, clientAddressKey } from './rate-limit.js';

/** The one place every HTTP route and WebSocket frame asks: who is this, may they, and are they within their rate. */
export class AuthService {
  readonly authenticator: Authenticator;
  readonly acl: Acl;
  readonly rateLimiter: RateLimiter;
  /** Failed authentications per client address: a flood of bad credentials is slowed, and guessing with it. */
  readonly #failures: RateLimiter;

  constructor(readonly config: AuthConfig) {
    this.authenticator = createAuthenticator(config);
    this.acl = new Acl(config.acl);
    this.rateLimiter = new RateLimiter(config.rateLimit.perSecond, config.rateLimit.burst);
    this.#failures = new RateLimiter(config.failureLimit.perMinute / 60, config.failureLimit.burst);
  }

  get enabled(): boolean {
    return this.config.mode !== 'none';
  }

  /** Settings that weaken authentication, said once at start so that they are never on by accident. */
  get startWarnings(): string[] {
    const warnings: string[] = [];
    if (this.config.mode === 'jwt' && this.config.jwt?.allowNoExpiry) {
      warnings.push('AUTH_JWT_ALLOW_NO_EXP=true: tokens without an expiry (exp) are accepted, and such a token stays valid until the signing key changes.');
    }
    return warnings;
  }

  authenticate(credentials: Credentials): Promise<Principal> {
    return this.authenticator.authenticate(credentials);
  }

  /**
   * Authenticates a request from `clientAddress`. Each failure takes a
   * token from the address's bucket; once it is empty, every request from
   * that address is answered 429 without looking at its credentials, so a
   * guess cannot succeed there either, until the bucket refills.
   */
  async authenticateFrom(credentials: Credentials, clientAddress: string | undefined): Promise<Principal> {
    const key = clientAddressKey(clientAddress);
    const waiting = this.#failures.peek(key);
    if (!waiting.allowed) {
      throw new GatewayError(
        'GW_ERR_TOO_MANY_REQUESTS',
        `Too many requests with invalid credentials from this address; retry after ${waiting.retryAfterSeconds} s with valid ones.`,
        { retryAfterSeconds: waiting.retryAfterSeconds },
      );
    }
    try {
      return await this.authenticate(credentials);
    } catch (error) {
      if (error instanceof GatewayError && error.code === 'GW_ERR_UNAUTHENTICATED') this.#failures.take(key);
      throw error;
    }
  }

  /**
   * Throws 403 unless allowed. The detail names the operation but says
   * nothing about whether the topic exists. Internal topics are refused for
   * every change and for produce, whoever asks, even with auth off.
   */
  authorize(principal: Principal, operation: AclOperation, topic?: string): void {
    if (topic !== undefined) refuseInternalChange(operation, topic);
    if (!this.acl.allows(principal, operation, topic)) {
      throw new GatewayError(
        'GW_ERR_FORBIDDEN',
        topic === undefined ? `${principal.name} may not ${operation}.` : `${principal.name} may not ${operation} topic ${JSON.stringify(topic)}.`,
      );
    }
  }

  /**
   * Throws 403 unless the principal may do `operation` on the consumer
   * group: `consume` to join, commit or seek, `describe` to see it, `admin`
   * to delete it. The detail says nothing about whether the group exists.
   */
  authorizeGroup(principal: Principal, operation: AclOperation, group: string): void {
    if (!this.acl.allowsGroup(principal, operation, group)) {
      throw new GatewayError('GW_ERR_FORBIDDEN', `${principal.name} may not ${operation} consumer group ${JSON.stringify(group)}.`);
    }
  }

  /** Whether `authorize` would let this pass: for choosing among topics, where a refusal is no error. */
  allows(principal: Principal, operation: AclOperation, topic: string): boolean {
    return this.acl.allows(principal, operation, topic);
  }

  /** Whether the principal may see a consumer group: `describe` on the group. */
  mayDescribeGroup(principal: Principal, group: string): boolean {
    return this.acl.allowsGroup(principal, 'describe', group);
  }

  /** Topics of a listing the principal may describe. */
  visibleTopics<T extends { name: string }>(principal: Principal, topics: readonly T[]): T[] {
    return topics.filter((t) => this.acl.allows(principal, 'describe', t.name));
  }

  /** Throws 429 with Retry-After when the principal's bucket is empty. */
  checkRate(principal: Principal): void {
    const decision = this.rateLimiter.take(principal.name);
    if (!decision.allowed) {
      throw new GatewayError('GW_ERR_TOO_MANY_REQUESTS', `Rate limit of ${this.config.rateLimit.perSecond} requests per second exceeded.`, {
        retryAfterSeconds: decision.retryAfterSeconds,
      });
    }
  }

  /**
   * Throws 421 unless the Host header names this gateway as allowed. On a
   * loopback listener only loopback names are allowed by default, so a web
   * page that rebinds its own name to 127.0.0.1 (DNS rebinding) cannot
   * reach a local gateway. An HTTP/1.0 request without Host is not from a
   * browser; HTTP/1.1 requires one (400).
   */
  checkHost(host: string | undefined, httpVersion: string): void {
    if (host === undefined && httpVersion !== '1.0') throw new GatewayError('GW_ERR_BAD_REQUEST', 'An HTTP/1.1 request needs a Host header.');
    if (host === undefined || this.isHostAllowed(host)) return;
    throw new GatewayError(
      'GW_ERR_MISDIRECTED',
      `This gateway does not serve the host name in the Host header; add it to ALLOWED_HOSTS if it should (allowed now: ${this.config.allowedHosts.join(', ')}).`,
    );
  }

  isHostAllowed(host: string): boolean {
    const name = hostName(host);
    return this.config.allowedHosts.some(
      (allowed) => allowed === '*' || allowed === name || (allowed.startsWith('.') && (name.endsWith(allowed) || name === allowed.slice(1))),
    );
  }

  isOriginAllowed(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined) return true; // not a browser: nothing to check
    const allowed = this.config.allowedOrigins;
    if (allowed.includes('*') || allowed.includes(origin)) return true;
    // Same origin: the page the gateway itself serves.
    try {
      return host !== undefined && new URL(origin).host === host;
    } catch {
      return false;
    }
  }
}

/** Operations that change a topic or write to it; describe and consume are left to the ACL. */
const CHANGES: ReadonlySet<AclOperation> = new Set(['admin', 'produce']);

/**
 * Throws 403 for a change to (or produce on) a topic Kafka or the gateway
 * keeps for itself: deleting `__consumer_offsets` would wipe every group's
 * commits, and changing `_gateway_schemas` would break schema enforcement.
 */
export function refuseInternalChange(operation: AclOperation, topic: string): void {
  if (CHANGES.has(operation) && isInternalTopic(topic)) {
    throw new GatewayError(
      'GW_ERR_FORBIDDEN',
      `Topic ${JSON.stringify(topic)} is internal (names starting with "__" or "_gateway_"): it is never changed or produced to through the gateway, whoever asks.`,
    );
  }
}

/** The host name of a Host header, lower case, without port or a final dot; an IPv6 literal keeps its brackets. */
function hostName(host: string): string {
  const lower = host.trim().toLowerCase();
  const name = lower.startsWith('[') ? lower.slice(0, lower.indexOf(']') + 1) : lower.replace(/:\d*$/, '');
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
