/**
 * The console and the schema registry formats, in headless Chromium against
 * a real gateway (its own registry) and broker: a record in the registry
 * wire format shows its decoded value and the schema it names (subject,
 * version, id, type) in its details; the produce form writes Avro with a
 * subject's latest schema and shows the gateway's refusal of a value that
 * does not fit; the topic's Schema tab lists its subjects and their versions.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { launchBrowser, openConsole, screenshots, type Browser } from './helpers/browser.js';
import { conforms } from './helpers/contract.js';
import { eventually, sharedBrokers, uniqueName } from './helpers/env.js';
import { deleteTopics } from './helpers/kafka.js';
import { gatewayFor } from './helpers/scoped.js';

const SR = 'application/vnd.schemaregistry.v1+json';
let gateway: RunningGateway;
let browser: Browser;
const topics: string[] = [];

before(async (t) => {
  gateway = await gatewayFor(t);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await deleteTopics(sharedBrokers(), topics);
});

async function register(subject: string, schema: object): Promise<number> {
  const res = conforms(await request(gateway.url).post(`/schema-registry/subjects/${subject}/versions`).set('content-type', SR).send({ schema: JSON.stringify(schema) }));
  assert.equal(res.status, 200, res.text);
  return res.body.id as number;
}

const reading = (fields: object[] = []) => ({
  type: 'record',
  name: 'Reading',
  namespace: 'plant',
  fields: [{ name: 'sensor', type: 'string' }, { name: 'celsius', type: 'double' }, ...fields],
});

test('Avro records: decoded in the tail with subject, version, id and type; produced from the form with a subject; the Schema tab lists the subjects', async () => {
  const topic = uniqueName('reg');
  topics.push(topic);
  conforms(await request(gateway.url).post('/v1/topics').send({ name: topic, partitions: 1 }).expect(201));
  const v1 = await register(`${topic}-value`, reading());
  const v2 = await register(`${topic}-value`, reading([{ name: 'site', type: 'string', default: 'north' }]));
  const keyId = await register(`${topic}-key`, { type: 'string' });
  conforms(await request(gateway.url).post(`/v1/topics/${topic}/records?valueFormat=avro&valueSchemaVersion=1`).send({ records: [{ key: 'k1', value: { sensor: 's1', celsius: 20.5 } }] }).expect(200));
  conforms(await request(gateway.url).post(`/v1/topics/${topic}/records?keyFormat=avro&valueFormat=avro`).send({ records: [{ key: 's2', value: { sensor: 's2', celsius: -4, site: 'south' } }] }).expect(200));

  const { page, problems, checkTraffic } = await openConsole(browser.context, gateway.url, `#/topics/${topic}/messages`);
  await page.getByLabel('From', { exact: true }).selectOption('earliest');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('#tail-status[data-state="live"]').waitFor();
  const rows = page.locator('#tail-table .rec');
  await eventually(async () => (await rows.count()) === 2);

  // Each record's value is the decoded JSON, and its details name the schema the bytes carry.
  const first = page.locator('#tail-table .rec[data-offset="0"]');
  assert.equal(await first.locator('.value').textContent(), '{"sensor":"s1","celsius":20.5}');
  await first.getByRole('button', { name: /Details of offset/ }).click();
  const facts = async (row: typeof first) => row.locator('dt').evaluateAll((dts) => Object.fromEntries(dts.map((dt) => [(dt as HTMLElement).innerText.trim(), ((dt.nextElementSibling as HTMLElement | null)?.innerText ?? '').trim()])));
  assert.equal((await facts(first))['Value schema'], `${topic}-value v1 · id ${v1} · AVRO`);
  const second = page.locator('#tail-table .rec[data-offset="1"]');
  assert.equal(await second.locator('.value').textContent(), '{"sensor":"s2","celsius":-4,"site":"south"}');
  await second.getByRole('button', { name: /Details of offset/ }).click();
  const secondFacts = await facts(second);
  assert.equal(secondFacts['Value schema'], `${topic}-value v2 · id ${v2} · AVRO`);
  assert.equal(secondFacts['Key schema'], `${topic}-key v1 · id ${keyId} · AVRO`);
  await screenshots(page, 'tail-registry', ['desktop-light', 'phone-dark']);

  // The form: Avro asks for a subject; a value that does not fit is refused with its pointer, one that fits is written with the latest version.
  await page.getByText('Produce a record').click();
  const subject = page.getByLabel('Schema subject (latest version)');
  assert.equal(await subject.isVisible(), false, 'no subject for plain JSON');
  await page.getByLabel('Value as').selectOption('avro');
  await subject.waitFor();
  await subject.fill(`${topic}-value`);
  await page.getByLabel('Value', { exact: true }).fill('{"sensor": "s3", "celsius": "warm"}');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  const refusal = page.locator('#produce-answer .problem');
  await refusal.waitFor();
  assert.match(await refusal.innerText(), /422/);
  assert.match(await refusal.innerText(), /\/records\/0\/value\/celsius/);
  await page.getByLabel('Value', { exact: true }).fill('{"sensor": "s3", "celsius": 21.25, "site": "east"}');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.locator('#produce-answer .produced').waitFor();
  assert.equal(await page.locator('#produce-answer [data-fact="offset"]').innerText(), '2');
  const third = page.locator('#tail-table .rec[data-offset="2"]');
  await third.waitFor();
  assert.equal(await third.locator('.value').textContent(), '{"sensor":"s3","celsius":21.25,"site":"east"}');
  await third.getByRole('button', { name: /Details of offset/ }).click();
  assert.equal((await facts(third))['Value schema'], `${topic}-value v2 · id ${v2} · AVRO`);
  const page3 = conforms(await request(gateway.url).get(`/v1/topics/${topic}/partitions/0/records?offset=2`).expect(200));
  assert.deepEqual(page3.body.records[0].value, { sensor: 's3', celsius: 21.25, site: 'east' }, 'written in the wire format, read back by the API');
  await page.getByRole('button', { name: 'Stop' }).click();

  // The Schema tab: the topic's subjects and their versions, as the registry has them.
  await page.goto(`${gateway.url}/#/topics/${topic}`);
  await page.getByRole('link', { name: 'Schema' }).click();
  const listed = page.locator('#schema-subjects');
  await listed.waitFor();
  const subjects = conforms(await request(gateway.url).get('/schema-registry/subjects').set('accept', SR).expect(200)).body as string[];
  assert.deepEqual(subjects.filter((s) => s.startsWith(topic)).sort(), [`${topic}-key`, `${topic}-value`]);
  const text = await listed.innerText();
  assert.match(text, new RegExp(`${topic}-value \\(versions 1, 2\\)`));
  assert.match(text, new RegExp(`${topic}-key \\(versions 1\\)`));
  await screenshots(page, 'topic-subjects', ['desktop-light']);

  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});
