/**
 * The console's page itself: what the gateway serves for it (its modules
 * and style sheet, with types and security headers, and nothing else), and
 * that it can be used from the keyboard alone and read by a screen reader
 * (landmarks, and a name for every control), in headless Chromium against a
 * real gateway and broker.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { publicDir } from '../src/common/paths.js';
import { launchBrowser, openConsole, type Browser } from './helpers/browser.js';
import { conforms } from './helpers/contract.js';
import { uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';

let gateway: RunningGateway;
let browser: Browser;

before(async (t) => {
  gateway = await gatewayFor(t);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('/ and /ui/{asset} serve the page and every module of public/ with its type and security headers; nothing else', async () => {
  const page = conforms(await request(gateway.url).get('/').expect(200));
  assert.match(page.headers['content-type'] ?? '', /^text\/html/);
  assert.match(page.text, /<script type="module" src="\/ui\/app\.js">/);
  assert.doesNotMatch(page.text, /<script>|https?:\/\//, 'no inline script, nothing from elsewhere');
  assert.match(page.headers['content-security-policy'] ?? '', /script-src 'self'/);
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.equal(page.headers['x-frame-options'], 'DENY');

  const files = readdirSync(publicDir).filter((name) => name !== 'index.html');
  assert.ok(files.length > 5, 'the console is a set of modules');
  for (const name of files) {
    const res = conforms(await request(gateway.url).get(`/ui/${name}`).expect(200));
    assert.match(res.headers['content-type'] ?? '', name.endsWith('.css') ? /^text\/css/ : /^text\/javascript/, name);
    // Modules import each other by relative name only: nothing outside /ui/, nothing from another host.
    for (const [, specifier] of res.text.matchAll(/^import .* from '([^']+)';$/gm)) {
      assert.match(specifier!, /^\.\/[a-z-]+\.js$/, `${name} imports ${specifier}`);
      assert.ok(files.includes(specifier!.slice(2)), `${name} imports ${specifier}, which is served`);
    }
  }

  for (const path of ['/ui/index.html', '/ui/package.json', '/ui/.env', '/ui/README.md']) {
    const res = conforms(await request(gateway.url).get(path).expect(404));
    assert.equal(res.body.code, 'GW_ERR_NOT_FOUND');
  }
  const traversal = conforms(await request(gateway.url).get('/ui/..%2F..%2Fpackage.json').expect(400));
  assert.equal(traversal.body.code, 'GW_ERR_VALIDATION');
  assert.equal((await request(gateway.url).get('/ui/').expect(404)).body.code, 'GW_ERR_NOT_FOUND');
});

/** Chromium's accessibility tree: every control a person can operate, with the name a screen reader says. */
async function controls(page: Page): Promise<Array<{ role: string; name: string }>> {
  const cdp = await page.context().newCDPSession(page);
  const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: Array<{ ignored: boolean; role?: { value: string }; name?: { value: string } }> };
  await cdp.detach();
  const operable = new Set(['button', 'link', 'textbox', 'searchbox', 'combobox', 'checkbox', 'spinbutton', 'DisclosureTriangle']);
  return nodes.filter((n) => !n.ignored && operable.has(n.role?.value ?? '')).map((n) => ({ role: n.role!.value, name: (n.name?.value ?? '').trim() }));
}

test('keyboard alone: from the topic list to a topic’s live tail and back; every control has a name and the page has landmarks', async () => {
  const topic = uniqueName('keyboard');
  conforms(await request(gateway.url).post('/v1/topics').send({ name: topic, partitions: 1 }).expect(201));
  const { page, problems, checkTraffic } = await openConsole(browser.context, gateway.url, `#/topics?q=${topic}`);
  await page.getByRole('link', { name: topic }).waitFor();
  for (const [role, name] of [['banner', undefined], ['navigation', 'Main'], ['main', undefined]] as const) {
    assert.equal(await page.getByRole(role, name ? { name } : {}).count(), 1, `one ${role} landmark`);
  }

  /** Presses Tab until the focused element matches, at most 40 times; returns the names passed on the way. */
  const tabTo = async (matches: (element: { text: string; label: string | null; tag: string }) => boolean): Promise<string[]> => {
    const passed: string[] = [];
    for (let i = 0; i < 40; i += 1) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        return { text: el.innerText?.trim() ?? '', label: el.getAttribute('aria-label') ?? (el as HTMLInputElement).labels?.[0]?.innerText ?? null, tag: el.tagName };
      });
      passed.push(focused.label ?? focused.text);
      if (matches(focused)) return passed;
    }
    assert.fail(`not reached by Tab: passed ${passed.join(', ')}`);
  };

  await tabTo((f) => f.tag === 'A' && f.text === topic);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: topic, level: 1 }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1', 'after navigating, focus is on the new view’s heading');
  await tabTo((f) => f.tag === 'A' && f.text === 'Messages');
  await page.keyboard.press('Enter');
  await page.locator('#tail-table').waitFor();
  const passed = await tabTo((f) => f.tag === 'SELECT' && f.label === 'From');
  assert.ok(passed.includes('Produce a record'), `the produce panel is reached on the way: ${passed.join(', ')}`);
  await page.keyboard.press('ArrowDown'); // earliest
  await tabTo((f) => f.tag === 'BUTTON' && f.text === 'Start');
  await page.keyboard.press('Enter');
  await page.locator('#tail-status[data-state="live"]').waitFor();
  await tabTo((f) => f.tag === 'BUTTON' && f.text === 'Pause');
  await page.keyboard.press('Space');
  await page.locator('#tail-status[data-state="paused"]').waitFor();
  assert.equal(await page.locator('#tail-pause').getAttribute('aria-pressed'), 'true');

  // Every view: each control has a name a screen reader can say.
  const views: Array<[string, string]> = [
    [`#/topics/${topic}/messages`, '#tail-table'],
    [`#/topics/${topic}/partitions`, '#partitions-table'],
    [`#/topics/${topic}/schema`, '#schema-panel button'],
    [`#/topics/${topic}/configs`, '#configs-title'],
    [`#/topics?q=${topic}`, '#topics-table tbody tr'],
    ['#/groups', '#groups-table'],
  ];
  for (const [fragment, ready] of views) {
    await page.goto(`${gateway.url}/${fragment}`);
    await page.locator(ready).first().waitFor();
    // Admin controls come after the gateway answered whether this principal may administer.
    await page.locator('.actions button').first().waitFor();
    const found = await controls(page);
    assert.ok(found.length >= 8, `controls on ${fragment}: ${JSON.stringify(found)}`);
    assert.deepEqual(found.filter((c) => c.name === ''), [], `controls without a name on ${fragment}`);
    assert.deepEqual(found.filter((c) => /[▸▾]/.test(c.name)), [], `fold markers are not read out on ${fragment}`);
  }
  await page.getByRole('button', { name: 'Sign in' }).click();
  const dialog = page.getByRole('dialog', { name: 'API key or token' });
  await dialog.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'credential-input', 'the dialog puts focus in its field');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});
