/**
 * TLS to the brokers, mutual: a real broker with an SSL listener that
 * requires client certificates, certificates made with openssl for this
 * test, and the gateway connecting with KAFKA_TLS_* settings.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { startBroker, type Broker } from '../kafka/broker.js';
import { conforms } from './helpers/contract.js';
import { eventually } from './helpers/env.js';
import { testGateway } from './helpers/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'gateway-tls-'));
const path = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A CA, a broker certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCertificates(): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=gateway-test-ca');
  writeFileSync(path('san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const name of ['broker', 'client']) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', 'san.cnf');
  }
  openssl('pkcs12', '-export', '-in', 'broker.pem', '-inkey', 'broker.key', '-certfile', 'ca.pem', '-out', 'broker.p12', '-passout', 'pass:test-pass');
  execFileSync('keytool', ['-importcert', '-noprompt', '-alias', 'ca', '-file', 'ca.pem', '-keystore', 'trust.p12', '-storetype', 'PKCS12', '-storepass', 'test-pass'], {
    cwd: dir,
    stdio: 'pipe',
  });
}

let broker: Broker;
before(async () => {
  makeCertificates();
  broker = await startBroker({ tls: { keystore: path('broker.p12'), truststore: path('trust.p12'), password: 'test-pass' } });
});
after(async () => {
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('connects over mutual TLS with the CA and client certificate from config', async () => {
  const gw = await testGateway(
    { KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: path('ca.pem'), KAFKA_TLS_CERT_FILE: path('client.pem'), KAFKA_TLS_KEY_FILE: path('client.key') },
    broker.sslBrokers,
  );
  try {
    await eventually(async () => (await request(gw.app).get('/readyz')).status === 200);
    conforms(await request(gw.app).get('/readyz').expect(200));
  } finally {
    await gw.close();
  }
});

test('without a client certificate the broker refuses and /readyz says so', async () => {
  const gw = await testGateway({ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: path('ca.pem'), KAFKA_CONNECTION_TIMEOUT_MS: '1000' }, broker.sslBrokers, {
    waitForKafka: false,
  });
  try {
    const res = conforms(await request(gw.app).get('/readyz').expect(503));
    assert.equal(res.body.status, 'unavailable');
  } finally {
    await gw.close();
  }
});
