import { createHash, timingSafeEqual } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey, type JSONWebKeySet } from 'jose';
import type { AuthConfig, JwtConfig } from '../config.js';
import { GatewayError } from '../common/index.js';
import type { Principal } from './acl.js';

/** Credentials as they arrived, from whichever place the transport allows. */
export interface Credentials {
  /** A bearer token (JWT, or an API key sent as a bearer token). */
  readonly bearer?: string;
  readonly apiKey?: string;
}

export const ANONYMOUS: Principal = Object.freeze({ name: 'anonymous', roles: [], anonymous: true });

export interface Authenticator {
  readonly mode: AuthConfig['mode'];
  /** The WWW-Authenticate challenge for a 401. */
  readonly challenge: string;
  /** The principal the credentials prove, or a 401 GatewayError. */
  authenticate(credentials: Credentials): Promise<Principal>;
}

const unauthenticated = (detail: string) => new GatewayError('GW_ERR_UNAUTHENTICATED', detail);

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function apiKeyAuthenticator(config: AuthConfig): Authenticator {
  const keys = config.apiKeys.map((k) => ({ ...k, digest: Buffer.from(k.sha256, 'hex') }));
  return {
    mode: 'api-key',
    challenge: `ApiKey realm="kafka-gateway", header="${config.apiKeyHeader}"`,
    async authenticate({ apiKey, bearer }) {
      const presented = apiKey ?? bearer;
      if (!presented) throw unauthenticated(`Send an API key in the ${config.apiKeyHeader} header.`);
      const digest = sha256(presented);
      // Compare against every key in constant time so the answer's timing says nothing about which keys exist.
      let found: (typeof keys)[number] | undefined;
      for (const key of keys) if (timingSafeEqual(key.digest, digest)) found = key;
      if (!found) throw unauthenticated('The API key is not valid.');
      return { name: found.name, roles: found.roles };
    },
  };
}

function keySource(jwt: JwtConfig): Uint8Array | JWTVerifyGetKey {
  if (jwt.secret) return new TextEncoder().encode(jwt.secret);
  if (jwt.jwks) return createLocalJWKSet(jwt.jwks as JSONWebKeySet);
  return createRemoteJWKSet(new URL(jwt.jwksUrl ?? ''), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
}

function jwtAuthenticator(jwt: JwtConfig): Authenticator {
  const key = keySource(jwt);
  const algorithms = jwt.secret ? ['HS256'] : ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA'];
  return {
    mode: 'jwt',
    challenge: 'Bearer realm="kafka-gateway"',
    async authenticate({ bearer }) {
      if (!bearer) throw unauthenticated('Send a JWT as "Authorization: Bearer <token>".');
      try {
        // jwtVerify checks the signature, exp and nbf; issuer and audience are required to match,
        // and a token without exp would be valid forever, so exp is required unless the operator opted out.
        const options = { issuer: jwt.issuer, audience: jwt.audience, algorithms, requiredClaims: jwt.allowNoExpiry ? [] : ['exp'] };
        const { payload } = typeof key === 'function' ? await jwtVerify(bearer, key, options) : await jwtVerify(bearer, key, options);
        if (typeof payload.sub !== 'string' || payload.sub === '') throw unauthenticated('The token has no subject (sub).');
        const roles = payload[jwt.rolesClaim];
        return {
          name: payload.sub,
          roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [],
          expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
        };
      } catch (error) {
        if (error instanceof GatewayError) throw error;
        throw unauthenticated(describeJwtFailure(error));
      }
    },
  };
}

/** What to tell the client, by jose's error class; never the token or key material. */
function describeJwtFailure(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The token has expired.';
  if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'exp' && error.reason === 'missing') {
    return 'The token has no expiry (exp claim); this gateway accepts only tokens that expire.';
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `The token's ${error.claim} claim is not accepted.`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'The token signature is not valid.';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'The token is signed with an algorithm this gateway does not accept.';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'No key of the gateway matches the token.';
  return 'The token is malformed or cannot be verified.';
}

export function createAuthenticator(config: AuthConfig): Authenticator {
  switch (config.mode) {
    case 'api-key':
      return apiKeyAuthenticator(config);
    case 'jwt':
      // loadConfig guarantees jwt settings in jwt mode.
      return jwtAuthenticator(config.jwt!);
    case 'none':
      return { mode: 'none', challenge: '', authenticate: async () => ANONYMOUS };
  }
}
