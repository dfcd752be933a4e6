/**
 * DNS rebinding: a web page elsewhere makes its own host name resolve to
 * 127.0.0.1 and talks to a gateway on loopback as if it were its own
 * origin. The Host header still names the page's host, so a loopback
 * gateway answers only loopback names (or ALLOWED_HOSTS), over HTTP and at
 * WebSocket upgrades.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { before, test } from 'node:test';
import type { RunningGateway } from '../src/gateway.js';
import { gatewayFor } from './helpers/scoped.js';
import { WsClient } from './helpers/ws.js';

let loopback: RunningGateway;
let listed: RunningGateway;

before(async (t) => {
  loopback = await gatewayFor(t);
  listed = await gatewayFor(t, { ALLOWED_HOSTS: 'gateway.example.com,.internal.example' });
});

/** One raw HTTP request with a chosen Host header (clients set it from the URL otherwise). */
function get(gateway: RunningGateway, path: string, host: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${gateway.url}${path}`, { headers: { Host: host } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject).end();
  });
}

const port = (gateway: RunningGateway) => new URL(gateway.url).port;

test('a loopback gateway refuses a rebound host name with 421 problem+json, and serves loopback names', async () => {
  for (const host of ['attacker.example', `attacker.example:${port(loopback)}`, `127.0.0.1.attacker.example:${port(loopback)}`, 'localhost.attacker.example']) {
    const res = await get(loopback, '/v1/topics', host);
    assert.equal(res.status, 421, host);
    assert.match(res.type, /^application\/problem\+json/);
    const problem = JSON.parse(res.body);
    assert.equal(problem.code, 'GW_ERR_MISDIRECTED');
    assert.match(problem.detail, /ALLOWED_HOSTS/);
  }
  assert.equal((await get(loopback, '/', 'attacker.example')).status, 421, 'the page too');
  for (const host of [`localhost:${port(loopback)}`, `127.0.0.1:${port(loopback)}`, `[::1]:${port(loopback)}`, 'LOCALHOST', 'localhost.']) {
    assert.equal((await get(loopback, '/v1/topics', host)).status, 200, host);
  }
  assert.equal((await get(loopback, '/healthz', 'probe.example')).status, 200, 'health probes may use any name');
});

test('a rebound host name cannot open a WebSocket on a loopback gateway', async () => {
  const url = `${loopback.url.replace(/^http/, 'ws')}/v1/ws`;
  let refusal: { status: number; body: string } | undefined;
  await assert.rejects(WsClient.connect(url, { headers: { Host: `attacker.example:${port(loopback)}` } }), (e: { status: number; body: string }) => {
    refusal = e;
    return true;
  });
  assert.equal(refusal?.status, 421);
  assert.equal(JSON.parse(refusal!.body).code, 'GW_ERR_MISDIRECTED');
  const allowed = await WsClient.connect(url, { headers: { Host: `localhost:${port(loopback)}` } });
  await allowed.close();
});

test('ALLOWED_HOSTS replaces the default: listed names and subdomains only', async () => {
  assert.equal((await get(listed, '/v1/cluster', 'gateway.example.com')).status, 200);
  assert.equal((await get(listed, '/v1/cluster', 'a.internal.example:443')).status, 200);
  assert.equal((await get(listed, '/v1/cluster', 'internal.example')).status, 200);
  assert.equal((await get(listed, '/v1/cluster', 'evil-internal.example')).status, 421);
  assert.equal((await get(listed, '/v1/cluster', `localhost:${port(listed)}`)).status, 421);
});
