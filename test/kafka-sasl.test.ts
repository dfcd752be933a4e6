/**
 * SASL to the brokers: the real broker with a SASL_PLAINTEXT listener, the
 * gateway connecting through it with each mechanism, and a wrong password
 * stopping the process at start with a clear message.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { startBroker, type Broker } from '../kafka/broker.js';
import { conforms } from './helpers/contract.js';
import { eventually } from './helpers/env.js';
import { testGateway } from './helpers/gateway.js';

let broker: Broker;
before(async () => {
  broker = await startBroker({ saslUsers: [{ username: 'gateway', password: 'gateway-secret' }] });
});
after(async () => {
  await broker?.stop();
});

for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512']) {
  test(`connects with SASL ${mechanism}`, async () => {
    const gw = await testGateway(
      { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: 'gateway', KAFKA_SASL_PASSWORD: 'gateway-secret' },
      broker.saslBrokers,
    );
    try {
      await eventually(async () => (await request(gw.app).get('/readyz')).status === 200);
      conforms(await request(gw.app).get('/readyz').expect(200));
    } finally {
      await gw.close();
    }
  });
}

test('a wrong password stops the process at start, naming the user and what to check', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      LOG_LEVEL: 'silent',
      KAFKA_BROKERS: broker.saslBrokers,
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: 'gateway',
      KAFKA_SASL_PASSWORD: 'not-the-password',
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /Kafka refused to authenticate user "gateway" with SCRAM-SHA-256/);
  assert.doesNotMatch(result.stderr + result.stdout, /not-the-password/, 'the password is never printed');
});
