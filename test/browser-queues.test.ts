/**
 * The console's queue list in headless Chromium: a share group taken from
 * over HTTP shows with its state, members, topics, lag and settings as the
 * API gives them, and every request the page made conforms to openapi.yaml.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import request from 'supertest';
import type { Page } from 'playwright-core';
import type { RunningGateway } from '../src/gateway.js';
import { launchBrowser, openConsole, screenshots, type Browser } from './helpers/browser.js';
import { conforms } from './helpers/contract.js';
import { eventually } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';

let gateway: RunningGateway;
let browser: Browser;
const jobs = `jobs-${randomBytes(3).toString('hex')}`;
const group = `${jobs}-workers`;

before(async (t) => {
  gateway = await gatewayFor(t);
  browser = await launchBrowser();
  conforms(await request(gateway.url).post('/v1/topics').send({ name: jobs, partitions: 1 }).expect(201));
  conforms(await request(gateway.url).post(`/v1/topics/${jobs}/records`).send({ records: Array.from({ length: 5 }, (_, n) => ({ value: { job: n } })) }).expect(200));
  conforms(await request(gateway.url).patch(`/v1/share-groups/${group}`).send({ autoOffsetReset: 'earliest', deliveryLimit: 4 }).expect(200));
  // A pull member joins the group and holds two records.
  await eventually(async () => {
    const taken = conforms(await request(gateway.url).post(`/v1/share-groups/${group}/take`).send({ topics: [jobs], max: 2, waitMs: 1000 }).expect(200));
    return taken.body.records.length > 0;
  });
});

after(async () => {
  await browser?.close();
});

async function tableText(page: Page, selector: string): Promise<string[][]> {
  return page.locator(`${selector} tbody tr`).evaluateAll((rows) => rows.map((row) => [...(row as HTMLTableRowElement).cells].map((cell) => (cell as HTMLElement).innerText.trim())));
}

test('queues: a share group with its members, topics, lag and settings as the API says', async () => {
  const { page, problems, checkTraffic } = await openConsole(browser.context, gateway.url, '#/queues');
  await page.getByRole('heading', { name: 'Queues (share groups)', level: 1 }).waitFor();
  await page.getByLabel('Filter').fill(jobs);
  await eventually(async () => {
    const text = await tableText(page, '#queues-table');
    return text.length === 1 && text[0]![2] === '1' && !text.flat().includes('…');
  });
  const [row] = await tableText(page, '#queues-table');
  const detail = conforms(await request(gateway.url).get(`/v1/share-groups/${group}`).expect(200)).body as {
    state: string;
    totalLag: string;
    settings: { lockDurationMs: string; deliveryLimit: string };
  };
  assert.deepEqual(row, [group, detail.state, '1', jobs, Number(detail.totalLag).toLocaleString('en-US'), `${Number(detail.settings.lockDurationMs) / 1000} s`, '4', 'none']);
  await screenshots(page, 'queues', ['desktop-light', 'phone-light']);
  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});
