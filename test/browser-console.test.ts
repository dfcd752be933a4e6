/**
 * The console's views, driven in headless Chromium against a real gateway
 * and broker: the topic list and its filter, a topic's partitions, configs
 * and schema (edited, refused with the gateway's reason, deleted), the
 * consumer groups with their lag sampled into a chart, and the admin
 * actions. What each view shows is checked against the API's own answers,
 * every request the page made is checked against openapi.yaml, and every
 * view is saved as screenshots under test-output/screenshots/.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Consumer } from './helpers/kafka-client.js';
import type { Page } from 'playwright-core';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { launchBrowser, openConsole, screenshots, type Browser } from './helpers/browser.js';
import { conforms } from './helpers/contract.js';
import { testGateway, type TestGateway } from './helpers/gateway.js';
import { eventually, sharedBrokers } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { kafkaClient } from './helpers/kafka.js';

let gateway: RunningGateway;
// A second instance answers the test's own questions while the page polls the first: the
// first's Kafka client (kafkajs) can fail two describes of different topics made at once.
let checker: TestGateway;
let browser: Browser;
let consumer: Consumer | undefined;
// One prefix per run, so the filter box narrows the list to this file's topics whatever else the broker
// holds; short, because the screenshots of these views illustrate the docs.
const shop = `shop-${randomBytes(3).toString('hex')}`;
const orders = `${shop}.orders`;
const payments = `${shop}.payments`;
const audit = `${shop}.audit`;
const billing = `${shop}.billing`;
const shipping = `${shop}.shipping`;

async function createTopic(name: string, partitions: number, configs?: Record<string, string>): Promise<void> {
  conforms(await request(gateway.url).post('/v1/topics').send({ name, partitions, ...(configs ? { configs } : {}) }).expect(201));
}

async function produce(topic: string, records: unknown[], valueFormat = 'json'): Promise<void> {
  conforms(await request(gateway.url).post(`/v1/topics/${topic}/records`).send({ valueFormat, records }).expect(200));
}

/** Commits offsets for a group the way a consumer that read so far and left would: the group keeps them, with no member. */
async function commitOffsets(groupId: string, topic: string, offsets: Record<number, string>): Promise<void> {
  const admin = kafkaClient(sharedBrokers()).admin();
  try {
    await admin.setOffsets({ groupId, topic, partitions: Object.entries(offsets).map(([partition, offset]) => ({ partition: Number(partition), offset })) });
  } finally {
    await admin.disconnect();
  }
}

const order = (n: number) => ({ key: `customer-${n % 7}`, value: { order: n, total: 10 + n, items: [{ sku: `sku-${n}`, qty: 1 + (n % 3) }] }, headers: { source: 'web' } });

before(async (t) => {
  gateway = await gatewayFor(t, { METADATA_CACHE_TTL_MS: '500' });
  checker = await testGateway({ METADATA_CACHE_TTL_MS: '0' });
  browser = await launchBrowser();
  await createTopic(orders, 3);
  await createTopic(payments, 1);
  await createTopic(audit, 2, { 'cleanup.policy': 'compact', 'retention.ms': '604800000' });
  await produce(orders, Array.from({ length: 60 }, (_, n) => order(n)));
  await produce(payments, [{ key: 'p-1', value: 'paid 42.00 EUR' }, { key: 'p-2', value: 'refunded 7.50 EUR' }], 'text');
  // A group that has read part of each partition and left: lag without members.
  await commitOffsets(billing, orders, { 0: '5', 1: '5', 2: '5' });
  // A group with a live member that has read everything.
  consumer = kafkaClient(sharedBrokers()).consumer({ groupId: shipping, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: payments, fromBeginning: true });
  await consumer.run({ eachMessage: async () => undefined });
});

after(async () => {
  await consumer?.disconnect();
  await browser?.close();
  await checker?.close();
});

/** The cells of a table's body rows as text, row by row. */
async function tableText(page: Page, selector: string): Promise<string[][]> {
  return page.locator(`${selector} tbody tr`).evaluateAll((rows) => rows.map((row) => [...(row as HTMLTableRowElement).cells].map((cell) => (cell as HTMLElement).innerText.trim())));
}

test('topic list: partitions, replication, latest offsets and schema as the API says, narrowed by the filter', async () => {
  conforms(await request(gateway.url).put(`/v1/topics/${orders}/schema`).send({ type: 'object', required: ['order'] }).expect(200));
  const { page, problems, checkTraffic } = await openConsole(browser.context, gateway.url);
  await page.getByRole('heading', { name: 'Topics', level: 1 }).waitFor();
  await page.getByLabel('Filter').fill(`${shop}.`);
  assert.match(await page.evaluate(() => location.href), new RegExp(`#/topics\\?q=${shop.replace(/[.-]/g, '\\$&')}`), 'the filter is kept in the URL');
  const rows = page.locator('#topics-table tbody tr');
  await eventually(async () => (await rows.count()) === 3);
  // Details arrive per row; wait until none is pending.
  await eventually(async () => !(await tableText(page, '#topics-table')).flat().includes('…'));

  const listed = conforms(await request(gateway.url).get('/v1/topics').expect(200)).body.topics as Array<{ name: string; partitionCount: number; replicationFactor: number }>;
  const shown = await tableText(page, '#topics-table');
  for (const name of [audit, orders, payments]) {
    const summary = listed.find((t) => t.name === name)!;
    const detail = conforms(await request(gateway.url).get(`/v1/topics/${name}`).expect(200)).body as { partitions: Array<{ latestOffset: string }>; schema: { version: number } | null };
    const latest = detail.partitions.reduce((sum, p) => sum + BigInt(p.latestOffset), 0n);
    assert.deepEqual(
      shown.find((cells) => cells[0] === name),
      [name, String(summary.partitionCount), String(summary.replicationFactor), latest.toLocaleString('en-US'), detail.schema ? `yes, v${detail.schema.version}` : 'no'],
    );
  }
  assert.equal(await page.getByRole('button', { name: 'Create topic' }).isVisible(), true, 'with auth off everyone may administer');
  await screenshots(page, 'topics');

  await page.getByLabel('Filter').fill(`${shop}.pay`);
  await eventually(async () => (await rows.count()) === 1);
  await page.getByLabel('Filter').fill('no topic is called this');
  await page.getByText('No topic name contains “no topic is called this”').waitFor();

  // Internal topics only on request, and without admin actions even with auth off.
  await page.getByLabel('Filter').fill('_gateway_schemas');
  await page.getByLabel('Show internal topics').check();
  await rows.first().waitFor();
  await rows.first().getByRole('link', { name: '_gateway_schemas' }).click();
  await page.getByRole('heading', { name: '_gateway_schemas', level: 1 }).waitFor();
  await page.locator('.badges', { hasText: 'internal' }).waitFor();
  await page.getByRole('link', { name: 'Partitions' }).waitFor();
  await page.locator('#partitions-table').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Delete topic' }).count(), 0, 'an internal topic offers no admin action');
  assert.equal(await page.getByRole('button', { name: 'Add partitions' }).count(), 0);
  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});

test('topic page: partitions, configs and the schema tab, checked against the API; schema edits show the gateway’s refusal inline', async () => {
  const { page, problems, checkTraffic } = await openConsole(browser.context, gateway.url, `#/topics/${audit}`);
  await page.locator('#partitions-table').waitFor();
  const detail = conforms(await request(gateway.url).get(`/v1/topics/${audit}`).expect(200)).body as {
    partitions: Array<{ partition: number; leader: number; replicas: number[]; isr: number[]; earliestOffset: string; latestOffset: string }>;
  };
  assert.deepEqual(
    await tableText(page, '#partitions-table'),
    detail.partitions.map((p) => [String(p.partition), String(p.leader), p.replicas.join(', '), p.isr.join(', '), p.earliestOffset, p.latestOffset, String(BigInt(p.latestOffset) - BigInt(p.earliestOffset))]),
  );
  await page.getByRole('link', { name: 'Configs' }).click();
  await page.locator('#configs-table').waitFor();
  assert.deepEqual(await tableText(page, '#configs-table'), [
    ['cleanup.policy', 'compact', 'set on topic'],
    ['retention.ms', '604800000', 'set on topic'],
  ]);
  await screenshots(page, 'topic-configs', ['desktop-light', 'phone-dark']);
  await page.getByLabel('Show every config').check();
  await page.locator('#configs-table tr[data-config="segment.bytes"]').waitFor();
  const all = conforms(await request(gateway.url).get(`/v1/topics/${audit}?configs=all`).expect(200)).body as { configs: Record<string, unknown> };
  assert.equal(await page.locator('#configs-table tbody tr').count(), Object.keys(all.configs).length);

  // Schema: none yet; a text that is not JSON never leaves the page; the gateway's refusal is shown under the editor.
  await page.getByRole('link', { name: 'Schema' }).click();
  await page.getByText('This topic has no JSON Schema').waitFor();
  await page.getByRole('button', { name: 'Add a schema' }).click();
  const editor = page.getByLabel('Schema (JSON Schema 2020-12)');
  await editor.fill('{"type": "object",, }');
  await page.getByRole('button', { name: 'Save schema' }).click();
  await page.locator('#schema-check', { hasText: 'Not JSON' }).waitFor();
  assert.equal(await editor.getAttribute('aria-invalid'), 'true');
  await editor.fill('{"type": "objekt"}');
  await page.getByRole('button', { name: 'Save schema' }).click();
  const refusal = page.locator('#schema-errors .problem');
  await refusal.waitFor();
  const answer = conforms(await request(gateway.url).put(`/v1/topics/${audit}/schema`).send({ type: 'objekt' }).expect(400)).body as { title: string; detail: string };
  assert.match(await refusal.innerText(), new RegExp(`400 ${answer.title}`));
  assert.ok((await refusal.innerText()).includes(answer.detail), 'the gateway’s reason word for word');
  await screenshots(page, 'topic-schema-refused', ['desktop-light', 'desktop-dark', 'phone-light']);

  await editor.fill(JSON.stringify({ type: 'object', properties: { id: { type: 'integer' }, note: { type: 'string', maxLength: 20 } }, required: ['id'] }, null, 2));
  await page.getByRole('button', { name: 'Save schema' }).click();
  await page.getByText('Version 1.').waitFor();
  await page.locator('.badges', { hasText: 'schema v1' }).waitFor();
  const stored = conforms(await request(gateway.url).get(`/v1/topics/${audit}/schema`).expect(200)).body as { version: number; schema: { required: string[] } };
  assert.deepEqual([stored.version, stored.schema.required], [1, ['id']]);
  // The tree folds: the properties node closes and opens from the keyboard.
  const properties = page.locator('#schema-panel .json-tree details').nth(1);
  assert.equal(await properties.getAttribute('open'), '');
  await properties.locator('> summary').focus();
  await page.keyboard.press('Enter');
  assert.equal(await properties.getAttribute('open'), null);
  await page.keyboard.press('Enter');
  await screenshots(page, 'topic-schema');

  await page.getByRole('button', { name: 'Delete schema' }).click();
  await page.getByRole('button', { name: 'Delete version 1' }).click();
  await page.getByText('This topic has no JSON Schema').waitFor();
  conforms(await request(gateway.url).get(`/v1/topics/${audit}/schema`).expect(404));
  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});

test('consumer groups: state, members and lag as the API says; a group’s lag sampled into a chart that follows it', async () => {
  const { page, problems, checkTraffic } = await openConsole(browser.context, gateway.url, '#/groups');
  await page.getByRole('heading', { name: 'Consumer groups', level: 1 }).waitFor();
  await page.getByLabel('Filter').fill(shop);
  const rows = page.locator('#groups-table tbody tr');
  await eventually(async () => {
    const text = await tableText(page, '#groups-table');
    return text.length === 2 && text.some((r) => r[0] === shipping && r[1] === 'Stable' && r[2] === '1') && !text.flat().includes('…');
  });
  assert.equal(await rows.count(), 2);
  const shown = await tableText(page, '#groups-table');
  const billingDetail = conforms(await request(checker.app).get(`/v1/consumer-groups/${billing}`).expect(200)).body as { state: string; totalLag: string; members: unknown[] };
  assert.deepEqual(shown.find((r) => r[0] === billing), [billing, billingDetail.state, String(billingDetail.members.length), orders, Number(billingDetail.totalLag).toLocaleString('en-US')]);
  await screenshots(page, 'groups');

  await page.getByRole('link', { name: billing }).click();
  await page.getByRole('heading', { name: billing, level: 1 }).waitFor();
  await page.getByLabel('Sample', { exact: true }).selectOption('2000');
  await page.locator('#group-offsets').waitFor();
  const detail = conforms(await request(checker.app).get(`/v1/consumer-groups/${billing}`).expect(200)).body as {
    offsets: Array<{ topic: string; partition: number; committedOffset: string; latestOffset: string; lag: string }>;
    totalLag: string;
  };
  assert.deepEqual(
    await tableText(page, '#group-offsets'),
    detail.offsets.map((o) => [o.topic, String(o.partition), o.committedOffset, o.latestOffset, Number(o.lag).toLocaleString('en-US'), 'unassigned']),
  );
  const caption = page.locator('#lag-caption');
  await caption.filter({ hasText: `Now ${Number(detail.totalLag).toLocaleString('en-US')} behind` }).waitFor();

  // The lag grows as records arrive, then falls as the group commits: each change is a new point.
  await produce(orders, Array.from({ length: 30 }, (_, n) => order(100 + n)));
  const grown = Number(detail.totalLag) + 30;
  await caption.filter({ hasText: `Now ${grown.toLocaleString('en-US')} behind` }).waitFor();
  await commitOffsets(billing, orders, { 0: detail.offsets.find((o) => o.partition === 0)!.latestOffset });
  const after = conforms(await request(checker.app).get(`/v1/consumer-groups/${billing}`).expect(200)).body as { totalLag: string };
  await caption.filter({ hasText: `Now ${Number(after.totalLag).toLocaleString('en-US')} behind` }).waitFor();
  const points = await page.locator('.lag-chart circle.point').count();
  assert.ok(points >= 3, `a point per sample (${points})`);
  assert.equal(await page.locator('.lag-chart polyline.line').count(), 1, 'one unbroken line');
  const label = (await page.locator('.lag-chart').getAttribute('aria-label')) ?? '';
  assert.match(label, new RegExp(`highest ${grown.toLocaleString('en-US')}`), label);
  assert.match(label, new RegExp(`to ${Number(after.totalLag).toLocaleString('en-US')},`), label);
  await screenshots(page, 'group-lag');

  // A group with a member: its assignment shows beside each partition.
  await page.goto(`${gateway.url}/#/groups/${shipping}`);
  await page.locator('#group-members tbody tr').first().waitFor();
  const shippingDetail = conforms(await request(checker.app).get(`/v1/consumer-groups/${shipping}`).expect(200)).body as { members: Array<{ clientId: string; host: string }> };
  assert.deepEqual((await tableText(page, '#group-members')).map((r) => r.slice(0, 3)), shippingDetail.members.map((m) => [m.clientId, m.host, `${payments}: 0`]));
  await screenshots(page, 'group-members', ['desktop-light', 'phone-light']);
  assert.equal(await page.getByRole('button', { name: 'Delete group' }).count(), 0, 'a group with members cannot be deleted, so no button offers it');

  // A group without members is deleted only after its name is typed; its offsets go with it.
  await page.goto(`${gateway.url}/#/groups/${billing}`);
  await page.getByRole('button', { name: 'Delete group' }).click();
  const dialog = page.getByRole('dialog', { name: `Delete group ${billing}` });
  assert.equal(await dialog.getByRole('button', { name: 'Delete group' }).isDisabled(), true);
  await dialog.getByLabel('Group name').fill(billing);
  await dialog.getByRole('button', { name: 'Delete group' }).click();
  await page.getByRole('heading', { name: 'Consumer groups', level: 1 }).waitFor();
  conforms(await request(checker.app).get(`/v1/consumer-groups/${billing}`).expect(404));

  await page.goto(`${gateway.url}/#/groups/${shop}-no-such-group`);
  await page.locator('.problem', { hasText: '404' }).waitFor();
  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});

test('admin: create a topic, add partitions, delete it only after its name is typed', async () => {
  const name = `${shop}.created`;
  const { page, problems, checkTraffic } = await openConsole(browser.context, gateway.url);
  await page.getByRole('button', { name: 'Create topic' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create a topic' });
  await dialog.getByLabel('Name', { exact: true }).fill('not a valid name!');
  await dialog.getByRole('button', { name: 'Create topic' }).click();
  await dialog.locator('.problem', { hasText: '400' }).waitFor();
  await screenshots(page, 'admin-create-refused', ['desktop-light', 'phone-dark']);
  await dialog.getByLabel('Name', { exact: true }).fill(name);
  await dialog.getByLabel('Partitions').fill('2');
  await dialog.getByLabel('Configs').fill('retention.ms=3600000');
  await dialog.getByRole('button', { name: 'Create topic' }).click();
  await page.getByRole('heading', { name, level: 1 }).waitFor();
  await eventually(async () => (await page.locator('#partitions-table tbody tr').count()) === 2);
  const created = conforms(await request(gateway.url).get(`/v1/topics/${name}`).expect(200)).body as { partitionCount: number; configs: Record<string, { value: string }> };
  assert.deepEqual([created.partitionCount, created.configs['retention.ms']?.value], [2, '3600000']);

  await page.getByRole('button', { name: 'Add partitions' }).click();
  const grow = page.getByRole('dialog', { name: `Add partitions to ${name}` });
  await grow.getByLabel('New partition count').fill('4');
  await grow.getByRole('button', { name: 'Add partitions' }).click();
  // On a loaded broker the gateway can answer 503 while the new partitions elect leaders, though they
  // were added; the dialog says so, and once it is closed the page reads the topic again either way.
  const settled = (wait: Promise<void>) => wait.then(() => true, () => false); // the one that loses the race must not reject later
  await Promise.race([settled(grow.waitFor({ state: 'hidden' })), settled(grow.locator('.problem', { hasText: '503' }).waitFor())]);
  if (await grow.isVisible()) await grow.getByRole('button', { name: 'Cancel' }).click();
  await eventually(async () => (await page.locator('#partitions-table tbody tr').count()) === 4);
  assert.equal((conforms(await request(gateway.url).get(`/v1/topics/${name}`).expect(200)).body as { partitionCount: number }).partitionCount, 4);

  await page.getByRole('button', { name: 'Delete topic' }).click();
  const confirm = page.getByRole('dialog', { name: `Delete topic ${name}` });
  const remove = confirm.getByRole('button', { name: 'Delete topic' });
  assert.equal(await remove.isDisabled(), true, 'nothing to click before the name is typed');
  await confirm.getByLabel('Topic name').fill(name.slice(0, -1));
  assert.equal(await remove.isDisabled(), true, 'a name nearly right is not the name');
  await confirm.getByLabel('Topic name').fill(name);
  await screenshots(page, 'admin-delete', ['desktop-light', 'desktop-dark', 'phone-light']);
  await remove.click();
  await page.getByRole('status').filter({ hasText: `Topic ${name} was deleted.` }).waitFor();
  await eventually(async () => (await request(gateway.url).get(`/v1/topics/${name}`)).status === 404);
  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});

test('messages: a topic tailed from earliest shows every record it holds, newest first', async () => {
  const { page, problems, checkTraffic } = await openConsole(browser.context, gateway.url, `#/topics/${orders}/messages`);
  const detail = conforms(await request(gateway.url).get(`/v1/topics/${orders}`).expect(200)).body as { partitions: Array<{ latestOffset: string }> };
  const held = detail.partitions.reduce((sum, p) => sum + Number(p.latestOffset), 0);
  await page.getByLabel('From', { exact: true }).selectOption('earliest');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('#tail-stats', { hasText: `${held} records received · ${held} rows shown` }).waitFor();
  const newest = page.locator('#tail-table .rec').first();
  await newest.getByRole('button', { name: /Details of offset/ }).click();
  await newest.locator('.json-tree').waitFor();
  await screenshots(page, 'messages');
  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});
