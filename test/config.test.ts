import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';

test('defaults give a loopback gateway on 8080 against localhost:9092', () => {
  const config = loadConfig({});
  assert.equal(config.port, 8080);
  assert.equal(config.host, '127.0.0.1');
  assert.deepEqual(config.kafka.brokers, ['localhost:9092']);
  assert.equal(config.bodyLimitBytes, 1024 * 1024);
  assert.equal(config.kafka.tls, undefined);
  assert.equal(config.kafka.sasl, undefined);
});

test('the config is frozen', () => {
  const config = loadConfig({});
  assert.throws(() => {
    (config as { port: number }).port = 1;
  }, TypeError);
  assert.ok(Object.isFrozen(config.kafka.brokers));
});

test('values are parsed: sizes with units, booleans, SASL', () => {
  const config = loadConfig({
    BODY_LIMIT: '2mb',
    KAFKA_BROKERS: 'a:9092, b:9093',
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: 'u',
    KAFKA_SASL_PASSWORD: 'p',
    LOG_LEVEL: 'debug',
  });
  assert.equal(config.bodyLimitBytes, 2 * 1024 * 1024);
  assert.deepEqual(config.kafka.brokers, ['a:9092', 'b:9093']);
  assert.deepEqual(config.kafka.sasl, { mechanism: 'scram-sha-512', username: 'u', password: 'p' });
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.ws.groupProtocol, 'consumer');
  assert.equal(loadConfig({ WS_GROUP_PROTOCOL: 'classic' }).ws.groupProtocol, 'classic');
});

test('every bad variable is named at once', () => {
  try {
    loadConfig({
      PORT: 'eighty',
      KAFKA_BROKERS: 'no-port',
      LOG_LEVEL: 'loud',
      BODY_LIMIT: '10 parsecs',
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_TLS: 'maybe',
      KAFKA_TLS_CA_FILE: '/nonexistent/ca.pem',
      WS_GROUP_PROTOCOL: 'kip848',
    });
    assert.fail('loadConfig accepted bad values');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const text = error.problems.join('\n');
    for (const name of ['PORT', 'KAFKA_BROKERS', 'LOG_LEVEL', 'BODY_LIMIT', 'KAFKA_SASL_USERNAME', 'KAFKA_TLS=', 'KAFKA_TLS_CA_FILE', 'WS_GROUP_PROTOCOL']) {
      assert.match(text, new RegExp(name), `no problem names ${name}`);
    }
  }
});

test('a bad value stops the process with a message naming the variable and exit code 2', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '70000', KAFKA_BROKERS: '127.0.0.1:1' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(result.status, 2);
  assert.match(result.stderr, /PORT="70000" must be a whole number from 0 to 65535/);
});

test('security settings: failure limit on by default, tokens must expire unless allowed', () => {
  const config = loadConfig({});
  assert.deepEqual(config.auth.failureLimit, { perMinute: 60, burst: 20 });
  assert.deepEqual(loadConfig({ AUTH_FAILURE_RATE_PER_MINUTE: '0', AUTH_FAILURE_BURST: '5' }).auth.failureLimit, { perMinute: 0, burst: 5 });
  assert.throws(() => loadConfig({ AUTH_FAILURE_BURST: '0' }), /AUTH_FAILURE_BURST="0"/);
  const dir = mkdtempSync(join(tmpdir(), 'gateway-config-'));
  writeFileSync(join(dir, 'acl.json'), JSON.stringify({ rules: [] }));
  const jwt = { AUTH_MODE: 'jwt', AUTH_JWT_SECRET: 'x'.repeat(32), AUTH_JWT_ISSUER: 'i', AUTH_JWT_AUDIENCE: 'a', AUTH_ACL_FILE: join(dir, 'acl.json') };
  assert.equal(loadConfig(jwt).auth.jwt?.allowNoExpiry, false);
  assert.equal(loadConfig({ ...jwt, AUTH_JWT_ALLOW_NO_EXP: 'true' }).auth.jwt?.allowNoExpiry, true);
  assert.throws(() => loadConfig({ ...jwt, AUTH_JWT_ALLOW_NO_EXP: 'sometimes' }), /AUTH_JWT_ALLOW_NO_EXP/);
});

test('ALLOWED_HOSTS: loopback names by default on loopback, any elsewhere, the list when given', () => {
  assert.deepEqual(loadConfig({}).auth.allowedHosts, ['localhost', '127.0.0.1', '[::1]']);
  assert.deepEqual(loadConfig({ HOST: '::1' }).auth.allowedHosts, ['localhost', '127.0.0.1', '[::1]']);
  assert.deepEqual(loadConfig({ HOST: '127.0.0.2' }).auth.allowedHosts, ['localhost', '127.0.0.1', '[::1]', '127.0.0.2']);
  assert.deepEqual(loadConfig({ HOST: '0.0.0.0' }).auth.allowedHosts, ['*']);
  assert.deepEqual(loadConfig({ HOST: '0.0.0.0', ALLOWED_HOSTS: 'Gateway.Example.com, .corp.example' }).auth.allowedHosts, ['gateway.example.com', '.corp.example']);
  assert.throws(() => loadConfig({ ALLOWED_HOSTS: 'https://gateway.example.com' }), /ALLOWED_HOSTS has "https:\/\/gateway.example.com"/);
  assert.throws(() => loadConfig({ ALLOWED_HOSTS: 'gateway.example.com:8080' }), /without port/);
});

test('consumer instances: Confluent\'s defaults, and ADVERTISED_URL as an http(s) URL of this process', () => {
  const defaults = loadConfig({}).consumers;
  assert.equal(defaults.instanceTimeoutMs, 300_000, 'consumer.instance.timeout.ms: 5 minutes');
  assert.equal(defaults.advertisedUrl, undefined);
  const set = loadConfig({ CONSUMER_INSTANCE_TIMEOUT_MS: '2000', CONSUMER_MAX_INSTANCES: '3', ADVERTISED_URL: 'https://gateway.example.com/gw-2/' }).consumers;
  assert.equal(set.instanceTimeoutMs, 2000);
  assert.equal(set.maxInstances, 3);
  assert.equal(set.advertisedUrl, 'https://gateway.example.com/gw-2', 'without its trailing slash');
  for (const bad of ['gateway-2:8080', 'ftp://gateway-2', 'http://gateway-2/?x=1', 'http://gate way']) {
    assert.throws(() => loadConfig({ ADVERTISED_URL: bad }), (error: unknown) => error instanceof ConfigError && /ADVERTISED_URL/.test(error.problems.join('\n')), bad);
  }
  assert.throws(() => loadConfig({ CONSUMER_INSTANCE_TIMEOUT_MS: '10' }), /CONSUMER_INSTANCE_TIMEOUT_MS/);
});
