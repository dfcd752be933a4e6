import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';

export const JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256!';
export const JWT_ISSUER = 'https://issuer.test';
export const JWT_AUDIENCE = 'kafka-gateway';

/**
 * Files for an auth-enabled gateway: API keys (as hashes) for `admin`,
 * `writer` and `reader`, and ACL rules giving each what its name says on
 * topics starting with `prefix`.
 */
export function authFiles(prefix: string): { env: Record<string, string>; keys: Record<'admin' | 'writer' | 'reader', string> } {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-auth-'));
  const keys = { admin: `admin-key-${prefix}`, writer: `writer-key-${prefix}`, reader: `reader-key-${prefix}` };
  const entries = Object.entries(keys).map(([name, key]) => ({ name, sha256: createHash('sha256').update(key).digest('hex') }));
  writeFileSync(join(dir, 'keys.json'), JSON.stringify(entries));
  writeFileSync(
    join(dir, 'acl.json'),
    JSON.stringify({
      rules: [
        { principals: ['admin'], topics: ['*'], operations: ['admin', 'describe', 'produce', 'consume'] },
        { principals: ['writer'], topics: [`${prefix}*`], operations: ['produce', 'describe'] },
        { principals: ['reader', 'role:readers'], topics: [`${prefix}*`], operations: ['consume', 'describe'] },
      ],
    }),
  );
  return {
    keys,
    env: {
      AUTH_MODE: 'api-key',
      AUTH_API_KEYS_FILE: join(dir, 'keys.json'),
      AUTH_ACL_FILE: join(dir, 'acl.json'),
      // The same files serve a JWT-mode gateway: set AUTH_MODE=jwt and these apply.
      AUTH_JWT_SECRET: JWT_SECRET,
      AUTH_JWT_ISSUER: JWT_ISSUER,
      AUTH_JWT_AUDIENCE: JWT_AUDIENCE,
    },
  };
}

/** An API key as `openssl rand -base64 32` makes them: `/`, `+` and `=` are not allowed in a WebSocket subprotocol. */
export const BASE64_API_KEY = 'q3/Xw+9ZkR0b1N2c3d4ZTFmMmczaDRpNWo2azdsOG0=';

/** A keys file naming `name` for BASE64_API_KEY, for a gateway whose ACL comes from authFiles. */
export function base64KeyFile(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-keys-'));
  const path = join(dir, 'keys.json');
  writeFileSync(path, JSON.stringify([{ name, sha256: createHash('sha256').update(BASE64_API_KEY).digest('hex') }]));
  return path;
}

/** `base64url.<credential>`: the subprotocol form that carries any credential. */
export function base64urlProtocol(credential: string): string {
  return `base64url.${Buffer.from(credential, 'utf8').toString('base64url')}`;
}

/** A JWT for `subject` signed with the test secret; `expiresIn` as jose takes it ('5m', or an epoch second), or null for no `exp`. */
export function jwtFor(subject: string, { roles = [] as string[], expiresIn = '5m' as string | number | null } = {}): Promise<string> {
  const jwt = new SignJWT({ roles }).setProtectedHeader({ alg: 'HS256' }).setSubject(subject).setIssuer(JWT_ISSUER).setAudience(JWT_AUDIENCE).setIssuedAt();
  return (expiresIn === null ? jwt : jwt.setExpirationTime(expiresIn)).sign(new TextEncoder().encode(JWT_SECRET));
}
