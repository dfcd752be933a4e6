/**
 * The API reference at /docs as a person sees it, rendered by Swagger UI in
 * headless Chromium: reachable with and without the trailing slash,
 * produce first, and no Authorize button or lock icons on a gateway that
 * takes no credentials (and both where it does).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import request from 'supertest';
import { chromiumPath } from '../scripts/preflight.js';
import type { RunningGateway } from '../src/gateway.js';
import { authFiles } from './helpers/auth.js';
import { conforms } from './helpers/contract.js';
import { gatewayFor } from './helpers/scoped.js';

let open: RunningGateway;
let guarded: RunningGateway;
let context: BrowserContext;
let userDataDir: string;

before(async (t) => {
  [open, guarded] = await Promise.all([gatewayFor(t), gatewayFor(t, authFiles('docs').env)]);
  userDataDir = mkdtempSync(join(tmpdir(), 'gateway-chromium-docs-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath(),
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

/** The reference as rendered: its sections in order, and how many authorization controls it shows. */
async function rendered(url: string): Promise<{ sections: string[]; authorizeButtons: number; locks: number }> {
  const page = await context.newPage();
  try {
    await page.goto(url);
    await page.waitForSelector('.opblock-tag-section .opblock', { timeout: 60_000 });
    const sections = await page.$$eval('h3.opblock-tag', (tags) => tags.map((t) => t.getAttribute('data-tag') ?? ''));
    const authorizeButtons = await page.locator('.auth-wrapper .authorize').count();
    const locks = await page.locator('.authorization__btn').count();
    return { sections, authorizeButtons, locks };
  } finally {
    await page.close();
  }
}

test('/docs/ with the trailing slash is the reference too', async () => {
  const res = conforms(await request(open.url).get('/docs/').expect(200));
  assert.match(res.text, /swagger-ui-bundle\.js/);
});

test('the reference starts with produce', { timeout: 120_000 }, async () => {
  const { sections } = await rendered(`${open.url}/docs`);
  assert.equal(sections[0], 'produce', `sections in order: ${sections.join(', ')}`);
  assert.equal(sections.at(-1), 'operations', 'health and the contract itself come last');
});

test('with authentication off there is no Authorize button and no lock icon', { timeout: 120_000 }, async () => {
  const { authorizeButtons, locks } = await rendered(`${open.url}/docs/`);
  assert.equal(authorizeButtons, 0);
  assert.equal(locks, 0);
});

test('with authentication on, the reference offers to authorize', { timeout: 120_000 }, async () => {
  const { authorizeButtons, locks } = await rendered(`${guarded.url}/docs`);
  assert.equal(authorizeButtons, 1);
  assert.ok(locks > 0);
});
