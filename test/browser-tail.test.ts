/**
 * The console's live tail and produce form, in headless Chromium against a
 * real gateway and broker: from earliest, latest or a time; pause without
 * losing a record and without unbounded buffering; a key filter; JSON
 * folded and unfolded; binary as base64 with its length; a cap on rows; the
 * gateway's refusals beside the form with their JSON Pointers. One test
 * feeds 2,000 records a second and reports the page's frame timings.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { launchBrowser, openConsole, screenshots, type Browser } from './helpers/browser.js';
import { conforms } from './helpers/contract.js';
import { eventually, uniqueName } from './helpers/env.js';
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

interface Produced {
  partition: number;
  offset: string;
}

async function createTopic(prefix: string, partitions: number): Promise<string> {
  const name = uniqueName(prefix);
  conforms(await request(gateway.url).post('/v1/topics').send({ name, partitions }).expect(201));
  return name;
}

async function produce(topic: string, body: Record<string, unknown>): Promise<Produced[]> {
  return (conforms(await request(gateway.url).post(`/v1/topics/${topic}/records`).send(body).expect(200)).body as { offsets: Produced[] }).offsets;
}

/** Opens a topic's Messages tab and starts the tail from `from`; resolves once the gateway says it is subscribed. */
async function startTail(page: Page, from: 'latest' | 'earliest' | 'time'): Promise<void> {
  await page.getByLabel('From', { exact: true }).selectOption(from);
  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('#tail-status[data-state="live"]').waitFor();
}

const rowsOf = (page: Page) => page.locator('#tail-table .rec');
// Rows out of sight are not rendered (content-visibility: auto), so their text is read with textContent, not innerText.
/** Each shown record as partition/offset, top (newest) first. */
const shownRecords = (page: Page) => rowsOf(page).evaluateAll((bodies) => bodies.map((b) => `${(b as HTMLElement).dataset.partition}/${(b as HTMLElement).dataset.offset}`));

test('tail from earliest: JSON folds, binary shows as base64 with its length, the form produces, the key filter narrows, pause holds records', async () => {
  const topic = await createTopic('tail', 2);
  const before = await produce(topic, {
    records: [
      { key: 'alice', value: { event: 'login', device: { os: 'linux', screens: [1280, 390] } }, partition: 0 },
      { key: 'bob', value: { event: 'logout' }, partition: 1 },
      { key: 'alice', value: null, partition: 1 },
    ],
  });
  const binary = await produce(topic, { keyFormat: 'text', valueFormat: 'binary', records: [{ key: 'bin', value: Buffer.from([0xff, 0xfe, 0, 1, 2]).toString('base64'), partition: 0 }] });
  const { page, problems, checkTraffic, sentFrames } = await openConsole(browser.context, gateway.url, `#/topics/${topic}/messages`);
  await startTail(page, 'earliest');
  await eventually(async () => (await rowsOf(page).count()) === 4);
  assert.deepEqual((await shownRecords(page)).sort(), [...before, ...binary].map((p) => `${p.partition}/${p.offset}`).sort());
  const subscribe = sentFrames.find((f) => f.op === 'subscribe');
  assert.deepEqual({ ...subscribe, id: undefined }, { op: 'subscribe', id: undefined, topics: [topic], from: 'earliest', format: 'text', credit: 500 });

  // Binary: the base64 and the byte count; a tombstone says null.
  const binaryRow = page.locator(`#tail-table .rec[data-partition="0"][data-offset="${binary[0]!.offset}"]`);
  assert.equal(await binaryRow.locator('.value').textContent(), '//4AAQI=base64 · 5 B');
  const tombstone = page.locator(`#tail-table .rec[data-partition="1"][data-offset="${before[2]!.offset}"]`);
  assert.equal(await tombstone.locator('.value').textContent(), 'null');

  // JSON: one line in the row; unfolded, a tree whose nodes fold from the keyboard.
  const login = page.locator(`#tail-table .rec[data-partition="0"][data-offset="${before[0]!.offset}"]`);
  assert.equal(await login.locator('.value').textContent(), '{"event":"login","device":{"os":"linux","screens":[1280,390]}}');
  await login.getByRole('button', { name: /Details of offset/ }).click();
  const device = login.locator('.json-tree details').nth(1);
  assert.equal(await device.getAttribute('open'), '', 'nested objects start open');
  await device.locator('> summary').focus();
  await page.keyboard.press('Enter');
  assert.equal(await device.getAttribute('open'), null, 'folded');
  assert.equal(await device.locator('> summary').textContent(), '{2 keys}');
  await page.keyboard.press('Enter');

  // The form: key, JSON value, a header, a chosen partition; the answer beside it, the record in the tail.
  await page.getByText('Produce a record').click();
  await page.getByLabel('Key', { exact: true }).fill('carol');
  await page.getByLabel('Value', { exact: true }).fill('{"event": "signup", "plan": "pro"}');
  await page.getByRole('button', { name: '+ Add header' }).click();
  await page.getByLabel('Header name').fill('trace-id');
  await page.getByLabel('Header value').fill('abc-123');
  await page.getByLabel('Partition', { exact: true }).selectOption('1');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.locator('#produce-answer .produced').waitFor();
  assert.equal(await page.locator('#produce-answer [data-fact="partition"]').innerText(), '1');
  const offset = await page.locator('#produce-answer [data-fact="offset"]').innerText();
  assert.equal(offset, '2', 'after bob and the tombstone');
  const carol = page.locator(`#tail-table .rec[data-partition="1"][data-offset="${offset}"]`);
  await carol.waitFor();
  await carol.getByRole('button', { name: /Details of offset/ }).click();
  assert.match((await carol.locator('.header-list').textContent()) ?? '', /trace-id: abc-123/);

  // A value that is not JSON never leaves the page.
  const posts = () => page.evaluate(() => performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/records')).length);
  const sent = await posts();
  await page.getByLabel('Value', { exact: true }).fill('{"event": signup}');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.locator('#produce-answer .problem', { hasText: 'The value is not JSON' }).waitFor();
  assert.equal(await page.getByLabel('Value', { exact: true }).getAttribute('aria-invalid'), 'true');
  assert.equal(await posts(), sent, 'nothing was sent');
  await page.getByLabel('Value as').selectOption('text');
  await page.getByLabel('Value', { exact: true }).fill('plain words, not JSON');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.locator('#produce-answer .produced').waitFor();
  await eventually(async () => (await rowsOf(page).count()) === 6);

  // Key filter: only alice's records (her login and her tombstone), then everything again.
  await page.getByLabel('Key (exact)').fill('alice');
  await eventually(async () => (await rowsOf(page).count()) === 2);
  assert.deepEqual((await rowsOf(page).locator('.key').allTextContents()), ['alice', 'alice']);
  await screenshots(page, 'tail-key-filter', ['desktop-light']);
  await page.getByLabel('Key (exact)').fill('');
  await eventually(async () => (await rowsOf(page).count()) === 6);

  // Pause: records produced meanwhile wait in the page, the table stays; resume shows them.
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.locator('#tail-status[data-state="paused"]').waitFor();
  await produce(topic, { records: [1, 2, 3].map((n) => ({ key: `while-paused-${n}`, value: { n }, partition: 0 })) });
  await page.locator('#tail-status', { hasText: 'Paused · 3 records waiting here' }).waitFor();
  assert.equal(await rowsOf(page).count(), 6);
  await page.getByRole('button', { name: 'Resume' }).click();
  await eventually(async () => (await rowsOf(page).count()) === 9);
  assert.deepEqual((await rowsOf(page).locator('.key').allTextContents()).slice(0, 3), ['while-paused-3', 'while-paused-2', 'while-paused-1']);
  await page.locator('#tail-stats', { hasText: '9 records received · 9 rows shown' }).waitFor();

  await login.getByRole('button', { name: /Details of offset/ }).click();
  await login.locator('.json-tree').waitFor();
  await page.getByText('Produce a record').click();
  await login.locator('.rec-detail').scrollIntoViewIfNeeded();
  await screenshots(page, 'tail');

  await page.getByRole('button', { name: 'Stop' }).click();
  await page.locator('#tail-status', { hasText: 'Stopped.' }).waitFor();
  await eventually(async () => sentFrames.some((f) => f.op === 'unsubscribe'));
  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});

test('tail over Server-Sent Events: the gateway filters the key; pause closes the stream and resume goes on after the last event', async () => {
  const topic = await createTopic('tail-sse', 2);
  await produce(topic, { records: [{ key: 'alice', value: { n: 1 }, partition: 0 }, { key: 'bob', value: { n: 2 }, partition: 1 }, { key: 'alice', value: { n: 3 }, partition: 1 }] });
  const { page, problems, checkTraffic, eventStreams, socketUrls } = await openConsole(browser.context, gateway.url, `#/topics/${topic}/messages`);
  await page.getByLabel('Via').selectOption('sse');
  await page.getByLabel('Key (exact)').fill('alice');
  await startTail(page, 'earliest');
  await eventually(async () => (await rowsOf(page).count()) === 2);
  assert.deepEqual(await rowsOf(page).locator('.key').allTextContents(), ['alice', 'alice']);
  assert.deepEqual(socketUrls, [], 'no WebSocket');
  assert.equal(eventStreams.length, 1);
  const opened = new URL(eventStreams[0]!, gateway.url).searchParams;
  assert.deepEqual([opened.get('key'), opened.get('from')], ['alice', 'earliest'], 'the key goes to the gateway');
  await page.locator('#tail-stats', { hasText: 'filtered by the gateway' }).waitFor();

  // Paused, the page closes its stream; records produced meanwhile come when it resumes, once each.
  await page.getByRole('button', { name: 'Pause' }).click();
  await eventually(async () => gateway.services.events.stats().streams === 0);
  await produce(topic, { records: [1, 2, 3].map((n) => ({ key: n === 2 ? 'bob' : 'alice', value: { n: 10 + n }, partition: n % 2 })) });
  await page.getByRole('button', { name: 'Resume' }).click();
  await eventually(async () => (await rowsOf(page).count()) >= 4);
  assert.equal(eventStreams.length, 2, 'a second stream, from the last event id');
  // Live again: a record produced now arrives, after everything the resumed stream had to send, and nothing came twice.
  await produce(topic, { records: [{ key: 'alice', value: { n: 20 }, partition: 0 }, { key: 'alice', value: { n: 21 }, partition: 1 }] });
  await eventually(async () => (await rowsOf(page).locator('.value').allTextContents()).filter((v) => v.startsWith('{"n":2')).length === 2);
  const values = (await rowsOf(page).locator('.value').allTextContents()).map((v) => (JSON.parse(v) as { n: number }).n).sort((a, b) => a - b);
  assert.deepEqual(values, [1, 3, 11, 13, 20, 21], 'every alice record once');
  await page.getByRole('button', { name: 'Stop' }).click();
  await eventually(async () => gateway.services.events.stats().streams === 0);
  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});

test('tail from a time starts at the first record at or after it; a schema violation is shown beside the form with its JSON Pointers', async () => {
  const topic = await createTopic('tail-time', 1);
  const hourAgo = Date.now() - 3_600_000;
  await produce(topic, { records: [1, 2].map((n) => ({ key: `old-${n}`, value: { n }, timestamp: hourAgo - 3_600_000 })) });
  const recent = await produce(topic, { records: [3, 4].map((n) => ({ key: `recent-${n}`, value: { n }, timestamp: Date.now() - 60_000 })) });
  const { page, problems, checkTraffic, sentFrames } = await openConsole(browser.context, gateway.url, `#/topics/${topic}/messages`);
  await page.getByLabel('From', { exact: true }).selectOption('time');
  // datetime-local takes the browser's local time, which here is the test's own zone.
  const local = new Date(hourAgo - new Date(hourAgo).getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
  await page.getByLabel('Time (your time zone)').fill(local);
  await startTail(page, 'time');
  await eventually(async () => (await rowsOf(page).count()) === 2);
  assert.deepEqual(await shownRecords(page), recent.map((p) => `${p.partition}/${p.offset}`).reverse());
  const subscribe = sentFrames.find((f) => f.op === 'subscribe');
  assert.equal(Math.abs(Number(subscribe?.from) - hourAgo) < 1000, true, `from is the chosen time in epoch ms (${String(subscribe?.from)})`);

  conforms(await request(gateway.url).put(`/v1/topics/${topic}/schema`).send({ type: 'object', properties: { n: { type: 'integer', maximum: 10 } }, required: ['n'] }).expect(200));
  const violation = { records: [{ value: { n: 99 } }] };
  const expected = conforms(await request(gateway.url).post(`/v1/topics/${topic}/records`).send(violation).expect(422)).body as { title: string; errors: Array<{ pointer: string; message: string }> };
  await page.getByText('Produce a record').click();
  await page.getByLabel('Value', { exact: true }).fill('{"n": 99}');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  const refusal = page.locator('#produce-answer .problem');
  await refusal.waitFor();
  assert.match(await refusal.locator('.problem-title').innerText(), new RegExp(`422 ${expected.title}`));
  assert.deepEqual(await refusal.locator('.problem-errors .pointer').allInnerTexts(), expected.errors.map((e) => e.pointer));
  assert.deepEqual(await refusal.locator('.problem-errors .message').allInnerTexts(), expected.errors.map((e) => e.message));
  await screenshots(page, 'produce-refused', ['desktop-light', 'desktop-dark', 'phone-light', 'phone-dark']);
  assert.equal(await rowsOf(page).count(), 2, 'nothing was produced');
  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});

test('the tail keeps at most the chosen number of rows, newest first, and counts everything received', async () => {
  const topic = await createTopic('tail-cap', 1);
  const { page, problems, checkTraffic } = await openConsole(browser.context, gateway.url, `#/topics/${topic}/messages`);
  await page.getByLabel('Keep the newest').selectOption('100');
  await startTail(page, 'latest');
  for (let batch = 0; batch < 3; batch += 1) await produce(topic, { records: Array.from({ length: 100 }, (_, n) => ({ key: `k${batch * 100 + n}`, value: { n: batch * 100 + n } })) });
  await page.locator('#tail-stats', { hasText: '300 records received · 100 rows shown' }).waitFor();
  assert.equal(await rowsOf(page).count(), 100);
  assert.equal((await shownRecords(page))[0], '0/299', 'the newest on top');
  assert.equal((await shownRecords(page)).at(-1), '0/200');
  assert.deepEqual(problems, []);
  await checkTraffic();
  await page.close();
});

const FRAME_PROBE = `(() => {
  const probe = { frames: [], longTasks: [], timerLag: [], running: true };
  window.probe = probe;
  let last = performance.now();
  const frame = (now) => {
    probe.frames.push(now - last);
    last = now;
    if (probe.running) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  new PerformanceObserver((list) => list.getEntries().forEach((e) => probe.longTasks.push(e.duration))).observe({ type: 'longtask' });
  const schedule = () => {
    const due = performance.now() + 50;
    setTimeout(() => {
      probe.timerLag.push(performance.now() - due);
      if (probe.running) schedule();
    }, 50);
  };
  schedule();
})()`;

/** Nearest-rank percentile of sorted numbers. */
function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
}

test('a topic receiving 2,000 records a second: every record arrives, rows stay capped, pausing holds at most one credit window; frame timings reported', async (t) => {
  const topic = await createTopic('tail-busy', 4);
  const { page, problems } = await openConsole(browser.context, gateway.url, `#/topics/${topic}/messages`);
  await startTail(page, 'latest');
  // The page's own view of its frames: requestAnimationFrame intervals, long tasks, and how late a 50 ms timer fires.
  // (A string, because the test's compiler would wrap named functions in a helper the page does not have.)
  await page.evaluate(FRAME_PROBE);

  // 2,000 records a second for five seconds: 200 every 100 ms, paced from the start so a slow batch is caught up.
  const perBatch = 200;
  const seconds = 5;
  const started = Date.now();
  let produced = 0;
  let pausedWaiting = -1;
  for (let batch = 0; batch < seconds * 10; batch += 1) {
    const due = started + batch * 100;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    await produce(topic, { records: Array.from({ length: perBatch }, (_, n) => ({ key: `user-${n % 50}`, value: { batch, n, at: Date.now(), payload: 'x'.repeat(64) } })) });
    produced += perBatch;
    // By id: a role query walks the accessible names of every row's button, and at 1,000 rows
    // that stalls the page's main thread for most of a second, which the timings would blame on the page.
    if (batch === 20) await page.locator('#tail-pause').click();
    if (batch === 30) {
      // Paused for a second of traffic: the page holds at most the credit it granted.
      const status = await page.locator('#tail-status').innerText();
      pausedWaiting = Number(/([\d,]+) records? waiting/.exec(status)?.[1]?.replace(/,/g, '') ?? NaN);
      await page.locator('#tail-pause').click();
    }
  }
  const produceSeconds = (Date.now() - started) / 1000;
  await page.locator('#tail-stats', { hasText: `${produced.toLocaleString('en-US')} records received` }).waitFor({ timeout: 120_000 });
  const caughtUpSeconds = (Date.now() - started) / 1000;
  const probe = (await page.evaluate('window.probe.running = false, window.probe')) as { frames: number[]; longTasks: number[]; timerLag: number[] };
  const rows = await rowsOf(page).count();
  assert.equal(rows, 1000, 'the table holds the default cap, not every record');
  assert.ok(pausedWaiting >= 0 && pausedWaiting <= 500, `paused, the page held ${pausedWaiting} records: at most the credit window of 500`);

  const frames = probe.frames.slice(1).sort((a, b) => a - b);
  const lags = probe.timerLag.sort((a, b) => a - b);
  const report = [
    `tail of ${produced} records at ${(produced / produceSeconds).toFixed(0)} records/s offered (${produceSeconds.toFixed(1)} s), all received after ${caughtUpSeconds.toFixed(1)} s`,
    `frames: ${frames.length} (${(frames.length / caughtUpSeconds).toFixed(1)}/s); interval p50 ${percentile(frames, 50).toFixed(1)} ms, p95 ${percentile(frames, 95).toFixed(1)} ms, p99 ${percentile(frames, 99).toFixed(1)} ms, max ${percentile(frames, 100).toFixed(1)} ms`,
    `long tasks (>50 ms): ${probe.longTasks.length}, ${probe.longTasks.reduce((a, b) => a + b, 0).toFixed(0)} ms in all, longest ${Math.max(0, ...probe.longTasks).toFixed(0)} ms`,
    `a 50 ms timer fired late by p50 ${percentile(lags, 50).toFixed(1)} ms, p95 ${percentile(lags, 95).toFixed(1)} ms, max ${percentile(lags, 100).toFixed(1)} ms`,
    `rows kept ${rows}; records waiting in the page while paused: ${pausedWaiting}`,
  ];
  for (const line of report) t.diagnostic(line);
  process.stdout.write(`\n  browser tail at 2,000 records/s:\n${report.map((l) => `    ${l}`).join('\n')}\n`);
  await screenshots(page, 'tail-busy', ['desktop-light']);
  assert.deepEqual(problems, []);
  await page.close();
});
