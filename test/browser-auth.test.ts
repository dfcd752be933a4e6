/**
 * The console with authentication on, in headless Chromium against a real
 * gateway and broker: it asks for a credential, keeps it only in the tab's
 * sessionStorage, sends it as the gateway says browsers should (Bearer over
 * HTTP, the base64url subprotocol on the WebSocket, so a key with / + =
 * works), shows admin controls only to a principal the gateway lets
 * administer, and shows 401 and 403 plainly.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { BASE64_API_KEY, authFiles } from './helpers/auth.js';
import { launchBrowser, openConsole, screenshots, type Browser } from './helpers/browser.js';
import { conforms } from './helpers/contract.js';
import { eventually, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';

let gateway: RunningGateway;
let browser: Browser;
const prefix = `${uniqueName('console')}-`;
const topic = `${prefix}orders`;
const { env, keys } = authFiles(prefix);

before(async (t) => {
  // The admin's key is one openssl makes (with / + and =): only the base64url subprotocol can carry it.
  const dir = mkdtempSync(join(tmpdir(), 'gateway-console-keys-'));
  const entries = [
    { name: 'admin', key: BASE64_API_KEY },
    { name: 'writer', key: keys.writer },
    { name: 'reader', key: keys.reader },
  ].map(({ name, key }) => ({ name, sha256: createHash('sha256').update(key).digest('hex') }));
  writeFileSync(join(dir, 'keys.json'), JSON.stringify(entries));
  gateway = await gatewayFor(t, { ...env, AUTH_API_KEYS_FILE: join(dir, 'keys.json') });
  browser = await launchBrowser();
  conforms(await request(gateway.url).post('/v1/topics').set('X-API-Key', BASE64_API_KEY).send({ name: topic, partitions: 1 }).expect(201));
  conforms(await request(gateway.url).put(`/v1/topics/${topic}/schema`).set('X-API-Key', BASE64_API_KEY).send({ type: 'object' }).expect(200));
});
after(async () => {
  await browser?.close();
});

/** Enters a credential: in the dialog the page opened itself after a 401 (`asked`), or through the header's button. */
async function signIn(page: Page, credential: string, { asked = false } = {}): Promise<void> {
  const dialog = page.getByRole('dialog', { name: 'API key or token' });
  if (asked) await dialog.waitFor();
  else if (!(await dialog.isVisible())) await page.getByRole('button', { name: /Sign in|Change credential/ }).click();
  await dialog.getByLabel('API key or token').fill(credential);
  await dialog.getByRole('button', { name: 'Use it' }).click();
}

const storage = (page: Page) =>
  page.evaluate(() => ({ session: { ...sessionStorage }, local: { ...localStorage }, cookie: document.cookie, url: location.href }));

test('with auth on the console asks for a credential, keeps it in this tab only, and shows 401 plainly', async () => {
  const { page, problems, checkTraffic, exchanges } = await openConsole(browser.context, gateway.url);
  const dialog = page.getByRole('dialog', { name: 'API key or token' });
  await dialog.waitFor();
  assert.match(await dialog.locator('#signin-reason').innerText(), /authentication on/);
  await page.locator('.problem', { hasText: '401' }).waitFor();
  await screenshots(page, 'signin', ['desktop-light', 'phone-dark']);

  // A wrong key: asked again with the gateway's reason; the view says 401 and what it means.
  await signIn(page, 'not-a-key');
  await dialog.locator('#signin-reason', { hasText: 'The gateway refused this credential' }).waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  const refusal = page.locator('.problem', { hasText: '401' });
  assert.match(await refusal.innerText(), /The gateway needs a valid API key or token for this/);
  await screenshots(page, 'unauthorized', ['desktop-light', 'desktop-dark']);

  // The reader: only its topics, no admin controls; the key only in sessionStorage.
  await refusal.getByRole('button', { name: 'Enter an API key or token' }).click();
  await signIn(page, keys.reader);
  await page.getByRole('link', { name: topic }).waitFor();
  const listed = conforms(await request(gateway.url).get('/v1/topics').set('X-API-Key', keys.reader).expect(200)).body.topics as Array<{ name: string }>;
  assert.deepEqual(await page.locator('#topics-table tbody th a').allInnerTexts(), listed.map((t) => t.name));
  assert.equal(await page.getByRole('button', { name: 'Create topic' }).isVisible(), false);
  assert.equal(await page.locator('#credential-state').innerText(), 'Credential set for this tab');
  assert.deepEqual(await storage(page), { session: { 'kafka-gateway.credential': keys.reader }, local: {}, cookie: '', url: `${gateway.url}/` });
  const cookies = await browser.context.cookies();
  assert.deepEqual(cookies, []);

  // A reload keeps it (same tab); another tab does not have it.
  await page.reload();
  await page.getByRole('link', { name: topic }).waitFor();
  const other = await openConsole(browser.context, gateway.url);
  await other.page.getByRole('dialog', { name: 'API key or token' }).waitFor();
  assert.deepEqual((await storage(other.page)).session, {});
  await other.page.close();

  // "Forget it" removes it.
  await page.getByRole('button', { name: 'Change credential' }).click();
  await dialog.getByRole('button', { name: 'Forget it' }).click();
  await page.locator('.problem', { hasText: '401' }).waitFor();
  assert.deepEqual((await storage(page)).session, {});

  // Every refused request was one the person caused: the page never retried with a bad credential.
  await page.waitForTimeout(200);
  const unauthorized = exchanges.filter((e) => e.status === 401).length;
  assert.ok(unauthorized <= 4, `${unauthorized} requests answered 401`);
  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});

test('a reader tails over the WebSocket but may not produce or administer: the 403 is shown plainly', async () => {
  const { page, problems, checkTraffic } = await openConsole(browser.context, gateway.url);
  await signIn(page, keys.reader, { asked: true });
  await page.getByRole('link', { name: topic }).click();
  await page.locator('#partitions-table').waitFor();
  // The gateway answers the admin question with 403 for a reader: no admin control is drawn.
  await page.locator('.badges', { hasText: 'schema v1' }).waitFor();
  await page.waitForLoadState('networkidle');
  assert.equal(await page.getByRole('button', { name: 'Add partitions' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Delete topic' }).count(), 0);
  await page.getByRole('link', { name: 'Schema' }).click();
  await page.getByText('Version 1.').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Edit schema' }).count(), 0);

  await page.getByRole('link', { name: 'Messages' }).click();
  await page.getByLabel('From', { exact: true }).selectOption('earliest');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('#tail-status[data-state="live"]').waitFor();
  conforms(await request(gateway.url).post(`/v1/topics/${topic}/records`).set('X-API-Key', keys.writer).send({ records: [{ key: 'w', value: { by: 'writer' } }] }).expect(200));
  await page.locator('#tail-table .rec .value', { hasText: '{"by":"writer"}' }).waitFor();

  await page.getByText('Produce a record').click();
  await page.getByLabel('Value', { exact: true }).fill('{"by": "reader"}');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  const refusal = page.locator('#produce-answer .problem');
  await refusal.waitFor();
  const expected = conforms(await request(gateway.url).post(`/v1/topics/${topic}/records`).set('X-API-Key', keys.reader).send({ records: [{ value: {} }] }).expect(403)).body as { title: string; detail: string };
  const text = await refusal.innerText();
  assert.match(text, new RegExp(`403 ${expected.title}`));
  assert.match(text, /Your credential does not allow this/);
  assert.ok(text.includes(expected.detail), text);
  await screenshots(page, 'forbidden', ['desktop-light', 'phone-light']);
  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});

test('a writer may not consume: the refused subscription is shown plainly; the admin’s key with / + = tails and administers', async () => {
  const { page, problems, checkTraffic } = await openConsole(browser.context, gateway.url, `#/topics/${topic}/messages`);
  await signIn(page, keys.writer, { asked: true });
  await page.getByRole('button', { name: 'Start' }).click();
  const refusal = page.locator('.tail-problems .problem');
  await refusal.waitFor();
  assert.match(await refusal.innerText(), /403 .*\n.*Your credential does not allow this/s);
  await page.locator('#tail-status', { hasText: 'Stopped.' }).waitFor();

  await signIn(page, BASE64_API_KEY);
  await page.getByRole('button', { name: 'Delete topic' }).waitFor();
  await page.getByRole('button', { name: 'Add partitions' }).waitFor();
  await page.getByLabel('From', { exact: true }).selectOption('earliest');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('#tail-status[data-state="live"]').waitFor();
  await eventually(async () => (await page.locator('#tail-table .rec').count()) >= 1);
  await page.goto(`${gateway.url}/#/topics`);
  await page.getByRole('button', { name: 'Create topic' }).waitFor();
  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});
