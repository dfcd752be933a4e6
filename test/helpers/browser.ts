/**
 * Headless Debian Chromium for the console's tests: one persistent context
 * per test file, pages that record everything the console asks of the
 * gateway (so a test can check each exchange against openapi.yaml), and
 * screenshots of a view at desktop and phone sizes, light and dark.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { chromiumPath } from '../../scripts/preflight.js';
import { checkExchange, type Exchange } from './contract.js';

export const SCREENSHOTS = join('test-output', 'screenshots');
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export interface Browser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath();
  assert.ok(existsSync(executablePath), `${executablePath} is missing: install it with \`apt-get update && apt-get install -y chromium\` (as root), or set CHROMIUM_PATH, to run the browser tests`);
  const userDataDir = mkdtempSync(join(tmpdir(), 'gateway-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: DESKTOP,
    colorScheme: 'light',
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** A page of the console and what it did: script errors, HTTP exchanges, WebSocket frames it sent. */
export interface ConsolePage {
  readonly page: Page;
  /** Script errors, CSP violations and page files that failed to load. */
  readonly problems: string[];
  readonly exchanges: Exchange[];
  readonly sentFrames: Array<Record<string, unknown>>;
  readonly socketUrls: string[];
  /** Paths (with query) of the event streams the page opened. */
  readonly eventStreams: string[];
  /** Waits for exchanges still being read, then checks each against openapi.yaml and the frames against docs/websocket.md. */
  checkTraffic(): Promise<void>;
}

const CLIENT_OPS = new Set(['subscribe', 'credit', 'unsubscribe', 'ack', 'produce']);

export async function openConsole(context: BrowserContext, url: string, fragment = ''): Promise<ConsolePage> {
  const page = await context.newPage();
  const problems: string[] = [];
  const exchanges: Exchange[] = [];
  const sentFrames: Array<Record<string, unknown>> = [];
  const socketUrls: string[] = [];
  const eventStreams: string[] = [];
  const reading: Array<Promise<void>> = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // The console's refused requests (a 401 before signing in, an admin probe's 400 or 403,
    // a produce the gateway refuses) are logged by the browser itself; they are checked as exchanges.
    if (message.type() === 'error' && !/the server responded with a status of 4\d\d/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    const request = response.request();
    const { pathname, search } = new URL(response.url());
    if (!response.url().startsWith(url)) {
      problems.push(`request outside the gateway: ${response.url()}`);
      return;
    }
    if (pathname.startsWith('/ui/') && response.status() !== 200 && response.status() !== 304) problems.push(`page file ${pathname}: ${response.status()}`);
    if (response.status() === 304 || response.status() === 101) return;
    const contentType = response.headers()['content-type'] ?? '';
    if (contentType.startsWith('text/event-stream')) {
      // An event stream ends only when the page stops it: its status and type are checked, its events elsewhere.
      exchanges.push({ method: request.method(), path: `${pathname}${search}`, status: response.status(), contentType, text: '' });
      eventStreams.push(`${pathname}${search}`);
      return;
    }
    reading.push(
      response
        .text()
        .then((text) => {
          exchanges.push({ method: request.method(), path: `${pathname}${search}`, status: response.status(), contentType: response.headers()['content-type'] ?? '', text });
        })
        .catch(() => undefined), // the page navigated away before the body was read
    );
  });
  page.on('websocket', (socket) => {
    socketUrls.push(socket.url());
    socket.on('framesent', (frame) => {
      sentFrames.push(JSON.parse(String(frame.payload)) as Record<string, unknown>);
    });
  });
  await page.goto(`${url}/${fragment}`);
  return {
    page,
    problems,
    exchanges,
    sentFrames,
    socketUrls,
    eventStreams,
    async checkTraffic() {
      await Promise.all(reading);
      assert.ok(exchanges.length > 0, 'the page asked the gateway for something');
      for (const exchange of exchanges) checkExchange(exchange);
      for (const socket of socketUrls) assert.equal(new URL(socket).pathname, '/v1/ws', 'live tails use the multiplexed WebSocket endpoint');
      for (const frame of sentFrames) assert.ok(CLIENT_OPS.has(String(frame.op)), `the page sent a frame docs/websocket.md knows: ${JSON.stringify(frame)}`);
    },
  };
}

/**
 * Screenshots of what the page shows now, at 1280x800 and 390 px wide, in
 * light and dark, as test-output/screenshots/<name>-<desktop|phone>-<light|dark>.png.
 * `modes` narrows the set; the viewport and scheme are set back afterwards.
 */
export async function screenshots(page: Page, name: string, modes: ReadonlyArray<`${'desktop' | 'phone'}-${'light' | 'dark'}`> = ['desktop-light', 'desktop-dark', 'phone-light', 'phone-dark']): Promise<string[]> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const paths: string[] = [];
  for (const mode of modes) {
    const [size, scheme] = mode.split('-') as ['desktop' | 'phone', 'light' | 'dark'];
    await page.setViewportSize(size === 'desktop' ? DESKTOP : PHONE);
    await page.emulateMedia({ colorScheme: scheme });
    // Layout that depends on the width (the lag chart is drawn at its box's width) settles first.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    const path = join(SCREENSHOTS, `${name}-${mode}.png`);
    await page.screenshot({ path });
    paths.push(path);
  }
  await page.setViewportSize(DESKTOP);
  await page.emulateMedia({ colorScheme: 'light' });
  return paths;
}
