/**
 * The browser page, driven in headless Chromium against a real gateway and
 * broker: pick a topic, subscribe over /v1/ws, produce from the page's form
 * over HTTP, see the record in the table, pause and resume without losing
 * records. Also the page's HTTP surface: assets, types, headers, 404s.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import request from 'supertest';
import { chromiumPath } from '../scripts/preflight.js';
import { startGateway, type RunningGateway } from '../src/gateway.js';
import { conforms } from './helpers/contract.js';
import { BASE64_API_KEY, authFiles, base64KeyFile } from './helpers/auth.js';
import { eventually, quietLogger, testConfig, uniqueName } from './helpers/env.js';

const CHROMIUM = chromiumPath();
const SCREENSHOT = join('test-output', 'browser.png');

let gateway: RunningGateway;
let context: BrowserContext;
let userDataDir: string;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install it with \`apt-get update && apt-get install -y chromium\` (as root), or set CHROMIUM_PATH, to run the browser test`);
  gateway = await startGateway(testConfig(), quietLogger());
  userDataDir = mkdtempSync(join(tmpdir(), 'gateway-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
});
after(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await gateway?.stop();
});

/** Opens the page and fails the test on any script error or CSP violation it reports. */
async function openPage(on: RunningGateway = gateway): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  await page.goto(`${on.url}/`);
  return { page, problems };
}

async function createTopic(): Promise<string> {
  const name = uniqueName('page');
  conforms(await request(gateway.url).post('/v1/topics').send({ name, partitions: 1 }).expect(201));
  await eventually(async () => {
    const res = conforms(await request(gateway.url).get('/v1/topics').expect(200));
    return (res.body.topics as Array<{ name: string }>).some((t) => t.name === name);
  });
  return name;
}

test('/ and /ui/{asset} serve the page from public/ with types and security headers; nothing else', async () => {
  const page = conforms(await request(gateway.url).get('/').expect(200));
  assert.match(page.headers['content-type'] ?? '', /^text\/html/);
  assert.match(page.text, /<script type="module" src="\/ui\/app\.js">/);
  assert.doesNotMatch(page.text, /<script>|https?:\/\//, 'no inline script, nothing from elsewhere');
  assert.match(page.headers['content-security-policy'] ?? '', /script-src 'self'/);
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.equal(page.headers['x-frame-options'], 'DENY');

  const js = conforms(await request(gateway.url).get('/ui/app.js').expect(200));
  assert.match(js.headers['content-type'] ?? '', /^text\/javascript/);
  const css = conforms(await request(gateway.url).get('/ui/style.css').expect(200));
  assert.match(css.headers['content-type'] ?? '', /^text\/css/);

  for (const path of ['/ui/index.html', '/ui/package.json', '/ui/.env']) {
    const res = conforms(await request(gateway.url).get(path).expect(404));
    assert.equal(res.body.code, 'GW_ERR_NOT_FOUND');
  }
  const traversal = conforms(await request(gateway.url).get('/ui/..%2F..%2Fpackage.json').expect(400));
  assert.equal(traversal.body.code, 'GW_ERR_VALIDATION');
  assert.equal((await request(gateway.url).get('/ui/').expect(404)).body.code, 'GW_ERR_NOT_FOUND');
});

test('the page subscribes, produces over HTTP, shows the record, and pauses without losing records', async () => {
  const topic = await createTopic();
  const { page, problems } = await openPage();

  await page.locator('#topic-select').selectOption(topic);
  assert.equal(await page.getByLabel('Topic', { exact: true }).inputValue(), topic);
  await page.getByLabel('From').selectOption('latest');
  await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
  await page.locator('#status', { hasText: `Subscribed to ${topic}` }).waitFor();

  await page.getByLabel('Key').fill('user-42');
  await page.getByLabel('Value', { exact: true }).fill('{"event":"login","n":1}');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.locator('#produce-result', { hasText: 'partition 0 at offset 0' }).waitFor();

  const rows = page.locator('#records tbody tr');
  await rows.first().waitFor();
  assert.deepEqual(await rows.first().locator('td').allInnerTexts().then((t) => t.slice(0, 4)), ['0', '0', 'user-42', '{"event":"login","n":1}']);

  // Paused: records produced meanwhile wait and the table stays as it is.
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await page.locator('#status', { hasText: 'Paused' }).waitFor();
  await page.getByLabel('Value as').selectOption('text');
  for (const n of [1, 2, 3]) {
    await page.getByLabel('Key').fill(`k${n}`);
    await page.getByLabel('Value', { exact: true }).fill(`while paused ${n}`);
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.locator('#produce-result', { hasText: `offset ${n}.` }).waitFor();
  }
  await page.locator('#status', { hasText: '3 record(s) waiting' }).waitFor();
  assert.equal(await rows.count(), 1);

  // Resumed: every record shows, newest first.
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await page.locator('#status', { hasText: `Subscribed to ${topic}` }).waitFor();
  await eventually(async () => (await rows.count()) === 4);
  assert.deepEqual(await page.locator('#records tbody tr td:nth-child(2)').allInnerTexts(), ['3', '2', '1', '0']);
  assert.deepEqual(await page.locator('#records tbody tr td:nth-child(4)').allInnerTexts(), ['while paused 3', 'while paused 2', 'while paused 1', '{"event":"login","n":1}']);

  assert.deepEqual(problems, [], 'no script error, CSP violation or failed load');

  // A produce the gateway refuses shows its problem detail (the browser logs the 400 itself).
  await page.getByLabel('Value as').selectOption('json');
  await page.getByLabel('Value', { exact: true }).fill('{"ok":true}');
  await page.getByLabel('Topic', { exact: true }).fill('no such topic!');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.locator('#produce-result.bad', { hasText: 'Not produced:' }).waitFor();
  await page.getByLabel('Topic', { exact: true }).fill(topic);

  mkdirSync('test-output', { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  await page.getByRole('button', { name: 'Clear', exact: true }).click();
  assert.equal(await rows.count(), 0);
  await page.getByRole('button', { name: 'Unsubscribe', exact: true }).click();
  await page.locator('#status', { hasText: 'Unsubscribed' }).waitFor();
  await page.close();
});

test('with an API key as openssl makes them (/, + and =), the page subscribes over the WebSocket and produces', async () => {
  const { env } = authFiles(`${uniqueName('pagekey')}-`);
  const secured = await startGateway(testConfig({ ...env, AUTH_API_KEYS_FILE: base64KeyFile('admin') }), quietLogger());
  try {
    const topic = uniqueName('page-auth');
    conforms(await request(secured.url).post('/v1/topics').set('X-API-Key', BASE64_API_KEY).send({ name: topic, partitions: 1 }).expect(201));
    const { page, problems } = await openPage(secured);
    await page.getByLabel('Token').fill(BASE64_API_KEY);
    await page.getByLabel('Topic', { exact: true }).fill(topic);
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await page.locator('#status', { hasText: `Subscribed to ${topic}` }).waitFor({ timeout: 15_000 });
    await page.getByLabel('Value', { exact: true }).fill('{"signed":"in"}');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.locator('#records tbody tr td', { hasText: '{"signed":"in"}' }).first().waitFor();
    assert.deepEqual(problems.filter((p) => !/401/.test(p)), [], 'no script error (the topic list asked before the token was in)');
    await page.close();
  } finally {
    await secured.stop();
  }
});
