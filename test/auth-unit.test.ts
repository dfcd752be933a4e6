/** Credentials, ACL decisions and rate limits, as pure logic (the HTTP and WebSocket paths are tested on real sockets elsewhere). */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { Acl, AuthService, RateLimiter, type Principal } from '../src/auth/index.js';
import { clientAddressKey } from '../src/auth/rate-limit.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { GatewayError } from '../src/common/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'gateway-auth-'));
function file(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}
const aclFile = file('acl.json', {
  rules: [
    { principals: ['alice'], topics: ['orders', 'logs.*'], operations: ['produce', 'describe'] },
    { principals: ['role:ops'], topics: ['*'], operations: ['describe', 'consume', 'admin'] },
  ],
});
const SECRET = 'a-very-long-shared-secret-for-hs256-tokens!';

async function rejectsWith(promise: Promise<unknown>, code: string, detail: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.code, code);
    assert.match(error.detail, detail);
    return true;
  });
}

test('ACL: exact names, prefixes, roles; everything else denied', () => {
  const acl = new Acl(loadConfig({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET, AUTH_JWT_ISSUER: 'i', AUTH_JWT_AUDIENCE: 'a', AUTH_ACL_FILE: aclFile }).auth.acl);
  const alice: Principal = { name: 'alice', roles: [] };
  const bob: Principal = { name: 'bob', roles: ['ops'] };
  const eve: Principal = { name: 'eve', roles: [] };
  assert.ok(acl.allows(alice, 'produce', 'orders'));
  assert.ok(acl.allows(alice, 'produce', 'logs.app'));
  assert.ok(!acl.allows(alice, 'produce', 'orders2'));
  assert.ok(!acl.allows(alice, 'produce', 'logs'));
  assert.ok(!acl.allows(alice, 'consume', 'orders'));
  assert.ok(!acl.allows(alice, 'admin', 'orders'));
  assert.ok(acl.allows(bob, 'admin', 'anything'));
  assert.ok(!acl.allows(bob, 'produce', 'orders'));
  assert.ok(!acl.allows(eve, 'describe'));
  assert.ok(acl.allows(alice, 'describe'), 'cluster-wide describe when some topic is describable');
});

test('ACL: names and roles never match each other; user:<name> names a principal explicitly', () => {
  const acl = new Acl([
    { principals: ['role:ops'], topics: ['*'], operations: ['admin'] },
    { principals: ['user:carol', 'dave'], topics: ['t'], operations: ['produce'] },
  ]);
  assert.ok(!acl.allows({ name: 'role:ops', roles: [] }, 'admin', 't'), 'a subject named role:ops is not the role');
  assert.ok(acl.allows({ name: 'x', roles: ['ops'] }, 'admin', 't'));
  assert.ok(acl.allows({ name: 'carol', roles: [] }, 'produce', 't'));
  assert.ok(acl.allows({ name: 'dave', roles: [] }, 'produce', 't'), 'a bare name still names a principal');
  assert.ok(!acl.allows({ name: 'user:carol', roles: [] }, 'produce', 't'));
  assert.ok(!acl.allows({ name: 'y', roles: ['user:carol', 'carol', 'dave'] }, 'produce', 't'), 'a role is never a name');
});

test('rate limiter: peek does not take; failure buckets are keyed by IPv4 address or IPv6 /64', () => {
  let now = 0;
  const limiter = new RateLimiter(1 / 60, 2, () => now);
  assert.ok(limiter.peek('a').allowed);
  assert.ok(limiter.take('a').allowed && limiter.take('a').allowed);
  assert.ok(!limiter.peek('a').allowed);
  assert.equal(limiter.peek('a').retryAfterSeconds, 60);
  now = 60_000;
  assert.ok(limiter.peek('a').allowed && limiter.peek('a').allowed, 'peeking twice takes nothing');
  assert.equal(clientAddressKey('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(clientAddressKey('2001:db8:1:2::7'), clientAddressKey('2001:0db8:0001:0002:ffff:1:2:3'));
  assert.notEqual(clientAddressKey('2001:db8:1:2::7'), clientAddressKey('2001:db8:1:3::7'));
});

test('groups: a rule without `groups` covers the groups its topic patterns match; `groups` names them apart; consume joins, describe sees', () => {
  const jwt = { AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET, AUTH_JWT_ISSUER: 'i', AUTH_JWT_AUDIENCE: 'a', AUTH_ACL_FILE: aclFile };
  const auth = new AuthService(loadConfig(jwt).auth);
  const alice: Principal = { name: 'alice', roles: [] };
  const ops: Principal = { name: 'o', roles: ['ops'] };
  // alice's rule names no groups: her topic patterns (orders, logs.*) are her group patterns, with her operations.
  assert.ok(auth.mayDescribeGroup(alice, 'logs.app'));
  assert.ok(!auth.mayDescribeGroup(alice, 'billing'));
  assert.ok(!auth.acl.allowsGroup(alice, 'consume', 'logs.app'), 'consume is not among her operations');
  assert.ok(auth.acl.allowsGroup(ops, 'consume', 'anything') && auth.acl.allowsGroup(ops, 'admin', 'anything'));
  assert.throws(() => auth.authorizeGroup(alice, 'consume', 'billing'), (e: GatewayError) => e.status === 403 && /consumer group "billing"/.test(e.message));
  assert.ok(new AuthService(loadConfig({}).auth).mayDescribeGroup({ name: 'anonymous', roles: [], anonymous: true }, 'any'), 'auth off: everything');

  const explicit = new Acl([
    { principals: ['bob'], topics: ['shared.*'], groups: ['bob.*'], operations: ['consume', 'describe'] },
    { principals: ['carol'], topics: ['shared.*'], groups: [], operations: ['consume'] },
  ]);
  const bob: Principal = { name: 'bob', roles: [] };
  assert.ok(explicit.allowsGroup(bob, 'consume', 'bob.workers'));
  assert.ok(!explicit.allowsGroup(bob, 'consume', 'shared.readers'), 'with groups given, the topic patterns name no group');
  assert.ok(!explicit.allowsGroup({ name: 'carol', roles: [] }, 'consume', 'shared.x'), 'groups: [] grants no group');
  assert.throws(
    () => loadConfig({ ...jwt, AUTH_ACL_FILE: file('bad-groups.json', { rules: [{ principals: ['x'], topics: [], groups: 'a*', operations: ['consume'] }] }) }),
    (e: ConfigError) => /groups must be a list of strings/.test(e.message),
  );
});

test('a setting that weakens authentication is a warning at start', () => {
  const jwt = { AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET, AUTH_JWT_ISSUER: 'i', AUTH_JWT_AUDIENCE: 'a', AUTH_ACL_FILE: aclFile };
  assert.deepEqual(new AuthService(loadConfig(jwt).auth).startWarnings, []);
  assert.match(new AuthService(loadConfig({ ...jwt, AUTH_JWT_ALLOW_NO_EXP: 'true' }).auth).startWarnings.join(), /AUTH_JWT_ALLOW_NO_EXP/);
});

test('rate limiter: burst, then refill at the rate, with Retry-After', () => {
  let now = 0;
  const limiter = new RateLimiter(2, 3, () => now);
  assert.deepEqual([1, 2, 3].map(() => limiter.take('p').allowed), [true, true, true]);
  const refused = limiter.take('p');
  assert.equal(refused.allowed, false);
  assert.equal(refused.retryAfterSeconds, 1);
  assert.ok(limiter.take('other').allowed, 'buckets are per principal');
  now += 500;
  assert.ok(limiter.take('p').allowed);
  assert.equal(limiter.take('p').allowed, false);
  assert.ok(new RateLimiter(0, 1).take('p').allowed, 'rate 0 disables limiting');
});

test('API keys are matched by hash; a wrong or missing key is 401', async () => {
  const key = 'k3y-for-alice';
  const keysFile = file('keys.json', [{ name: 'alice', sha256: createHash('sha256').update(key).digest('hex'), roles: ['ops'] }]);
  const auth = new AuthService(loadConfig({ AUTH_MODE: 'api-key', AUTH_API_KEYS_FILE: keysFile, AUTH_ACL_FILE: aclFile }).auth);
  assert.deepEqual(await auth.authenticate({ apiKey: key }), { name: 'alice', roles: ['ops'] });
  assert.equal((await auth.authenticate({ bearer: key })).name, 'alice');
  await rejectsWith(auth.authenticate({ apiKey: 'wrong' }), 'GW_ERR_UNAUTHENTICATED', /not valid/);
  await rejectsWith(auth.authenticate({}), 'GW_ERR_UNAUTHENTICATED', /x-api-key/);
});

test('JWT HS256: issuer, audience, expiry, not-before and signature are all checked', async () => {
  const auth = new AuthService(
    loadConfig({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET, AUTH_JWT_ISSUER: 'https://issuer', AUTH_JWT_AUDIENCE: 'gateway', AUTH_ACL_FILE: aclFile }).auth,
  );
  const key = new TextEncoder().encode(SECRET);
  const sign = (claims: Record<string, unknown>, mutate: (jwt: SignJWT) => SignJWT = (j) => j, k = key) =>
    mutate(new SignJWT({ roles: ['ops'], ...claims }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuer('https://issuer').setAudience('gateway').setIssuedAt()).sign(k);

  const good = await auth.authenticate({ bearer: await sign({}, (j) => j.setExpirationTime('5m')) });
  assert.equal(good.name, 'alice');
  assert.deepEqual(good.roles, ['ops']);
  assert.ok(good.expiresAt && good.expiresAt > Date.now());

  await rejectsWith(auth.authenticate({ bearer: await sign({}, (j) => j.setExpirationTime(Math.floor(Date.now() / 1000) - 60)) }), 'GW_ERR_UNAUTHENTICATED', /expired/);
  await rejectsWith(auth.authenticate({ bearer: await sign({}, (j) => j.setNotBefore('10m').setExpirationTime('1h')) }), 'GW_ERR_UNAUTHENTICATED', /nbf/);
  await rejectsWith(auth.authenticate({ bearer: await sign({}) }), 'GW_ERR_UNAUTHENTICATED', /no expiry/);
  await rejectsWith(auth.authenticate({ bearer: await sign({}, (j) => j.setIssuer('https://other').setExpirationTime('5m')) }), 'GW_ERR_UNAUTHENTICATED', /iss/);
  await rejectsWith(auth.authenticate({ bearer: await sign({}, (j) => j.setAudience('other').setExpirationTime('5m')) }), 'GW_ERR_UNAUTHENTICATED', /aud/);
  await rejectsWith(
    auth.authenticate({ bearer: await sign({}, (j) => j, new TextEncoder().encode('another-secret-that-is-long-enough-too!!')) }),
    'GW_ERR_UNAUTHENTICATED',
    /signature/,
  );
  await rejectsWith(auth.authenticate({ bearer: 'not.a.jwt' }), 'GW_ERR_UNAUTHENTICATED', /malformed/);
  const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"alice","iss":"https://issuer","aud":"gateway"}').toString('base64url')}.`;
  await rejectsWith(auth.authenticate({ bearer: unsigned }), 'GW_ERR_UNAUTHENTICATED', /./);
  await rejectsWith(auth.authenticate({}), 'GW_ERR_UNAUTHENTICATED', /Bearer/);
});

test('JWT ES256 with keys from a JWKS file', async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const jwksFile = file('jwks.json', { keys: [jwk] });
  const auth = new AuthService(
    loadConfig({ AUTH_MODE: 'jwt', AUTH_JWT_JWKS_FILE: jwksFile, AUTH_JWT_ISSUER: 'i', AUTH_JWT_AUDIENCE: 'a', AUTH_ACL_FILE: aclFile }).auth,
  );
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject('svc').setIssuer('i').setAudience('a').setExpirationTime('1m').sign(privateKey);
  assert.equal((await auth.authenticate({ bearer: token })).name, 'svc');
  const hs = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('svc').setIssuer('i').setAudience('a').sign(new TextEncoder().encode(SECRET));
  await rejectsWith(auth.authenticate({ bearer: hs }), 'GW_ERR_UNAUTHENTICATED', /algorithm|key/);
});

test('auth config mistakes are named at start', () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return '';
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.message;
    }
  };
  assert.match(problems({ AUTH_MODE: 'jwt' }), /AUTH_ACL_FILE[\s\S]*AUTH_JWT_SECRET[\s\S]*AUTH_JWT_ISSUER[\s\S]*AUTH_JWT_AUDIENCE/);
  assert.match(problems({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: 'short', AUTH_JWT_ISSUER: 'i', AUTH_JWT_AUDIENCE: 'a', AUTH_ACL_FILE: aclFile }), /at least 32/);
  assert.match(problems({ AUTH_MODE: 'api-key', AUTH_ACL_FILE: aclFile, AUTH_API_KEYS_FILE: file('plain.json', [{ name: 'a', key: 'secret' }]) }), /sha256/);
  assert.match(problems({ AUTH_ACL_FILE: file('badacl.json', { rules: [{ principals: ['a'], topics: ['t'], operations: ['write'] }] }) }), /write/);
  assert.match(problems({ ALLOWED_ORIGINS: 'example.com' }), /ALLOWED_ORIGINS/);
  assert.match(problems({ AUTH_ACL_FILE: file('emptyrole.json', { rules: [{ principals: ['role:'], topics: ['t'], operations: ['produce'] }] }) }), /role:<role>/);
});
