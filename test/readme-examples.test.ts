/**
 * The README pastes without a surprise: every `sh` block of README.md, in
 * order, then examples/curl.sh, runs against a real `npm run dev` (its own
 * single-node broker, as on a fresh clone), and every HTTP answer is 2xx
 * unless the text next to the command announces its status (a comment on
 * the command, or the comment lines just above it). The README's
 * WebSocket snippet runs too, under this Node version, and must print a
 * record. `shell` blocks are setup commands that do not talk to the
 * gateway (installing, Docker, client generators) and are not run.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cleanUp, startDev, type DevProcess } from './helpers/dev.js';

interface Block {
  readonly info: string;
  /** Line number in README.md of the block's first line of code. */
  readonly firstLine: number;
  readonly lines: readonly string[];
}

/** The fenced code blocks of a Markdown text, with their info strings. */
function codeBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    assert.ok(end > i, `README.md: the block opened on line ${i + 1} is not closed`);
    blocks.push({ info: open[1] ?? '', firstLine: i + 2, lines: lines.slice(i + 1, end) });
    i = end;
  }
  return blocks;
}

/**
 * The statuses the text announces for the command on `line` (1-based) of
 * `lines`: every three-digit number in its comments and in the comment
 * lines right above it.
 */
function announcedStatuses(lines: readonly string[], line: number): Set<number> {
  const continues = (text: string | undefined) => /(\\|\||&&)\s*$/.test(text ?? '');
  let start = line - 1;
  while (start > 0 && continues(lines[start - 1])) start--;
  let end = line - 1;
  while (end < lines.length - 1 && continues(lines[end])) end++;
  while (start > 0 && /^\s*#/.test(lines[start - 1] ?? '')) start--;
  const comments = lines
    .slice(start, end + 1)
    .map((text) => (/^\s*#/.test(text) ? text : (/\s#\s(.*)$/.exec(text)?.[1] ?? '')))
    .join(' ');
  return new Set([...comments.matchAll(/\b([1-5]\d\d)\b/g)].map((m) => Number(m[1])));
}

let dev: DevProcess;
let work: string;
let prelude: string;

before(
  async () => {
    dev = await startDev();
    work = mkdtempSync(join(tmpdir(), 'gateway-readme-'));
    // Sourced by every bash below (BASH_ENV): curl records, per call, the line of the script that
    // made it (the outermost caller, so calls through curl.sh's `call` count at the call) and
    // the status of the last response it got.
    prelude = join(work, 'prelude.sh');
    writeFileSync(
      prelude,
      [
        'curl() {',
        '  local headers rc=0 status',
        '  headers="$(mktemp)"',
        '  command curl -D "$headers" "$@" || rc=$?',
        `  status="$(grep -E '^HTTP/' "$headers" | tail -n 1 | cut -d ' ' -f 2)"`,
        '  rm -f "$headers"',
        '  printf \'%s %s\\n\' "${BASH_LINENO[${#BASH_LINENO[@]}-2]}" "${status:-000}" >>"$STATUS_LOG"',
        '  return "$rc"',
        '}',
        'export -f curl',
        '',
      ].join('\n'),
    );
  },
  { timeout: 240_000 },
);

after(async () => {
  if (dev) {
    process.kill(-dev.pgid, 'SIGINT');
    await dev.exited;
    cleanUp(dev);
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The text with the README's gateway address replaced by the dev run's. */
function onDevGateway(text: string): string {
  const host = new URL(dev.url).host;
  return text.replaceAll('localhost:8080', host).replaceAll('127.0.0.1:8080', host);
}

interface Call {
  readonly line: number;
  readonly status: number;
}

/** Runs a bash script under the recording curl; answers each call with its line and status. */
function runScript(script: string, args: string[]): Promise<{ calls: Call[]; output: string; code: number }> {
  const statusLog = join(work, `status-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(statusLog, '');
  return new Promise((resolve) => {
    // A group of its own, so that a script that hangs is stopped with everything it started.
    const child = spawn('bash', ['-e', '-o', 'pipefail', script, ...args], {
      cwd: process.cwd(),
      env: { ...process.env, BASH_ENV: prelude, STATUS_LOG: statusLog },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      output += '\n(stopped: still running after 120 s)';
      process.kill(-child.pid!, 'SIGKILL');
    }, 120_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const calls = readFileSync(statusLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((entry) => {
          const [line, status] = entry.split(' ');
          return { line: Number(line), status: Number(status) };
        });
      resolve({ calls, output, code: code ?? 1 });
    });
  });
}

/** What went wrong in a script: it failed, made no call, or got a non-2xx answer its text does not announce. */
function problems(where: (line: number) => string, lines: readonly string[], result: { calls: Call[]; output: string; code: number }): string[] {
  const found: string[] = [];
  if (result.calls.length === 0) found.push(`${where(1)}: made no HTTP call; a block that does not talk to the gateway is a \`shell\` block`);
  for (const { line, status } of result.calls) {
    if (status >= 200 && status <= 299) continue;
    if (announcedStatuses(lines, line).has(status)) continue;
    found.push(`${where(line)}: ${status || 'no answer'}, not announced, for \`${lines[line - 1]?.trim()}\``);
  }
  if (result.code !== 0) found.push(`${where(1)}: the script exited with ${result.code}`);
  if (found.length > 0) found.push(`  its output:\n${result.output}`);
  return found;
}

const readme = readFileSync('README.md', 'utf8');
const blocks = codeBlocks(readme);

/** Commands that install, build or start servers: setup, which belongs in `shell` blocks and is never run here. */
const SETUP = /\b(npm (install|ci|run|start|test)|npx|pip|go (run|install)|docker|apt-get|scripts\/)/;

/** The sh blocks, after checking that none of them is setup: those are about to be run. */
function shBlocks(): Block[] {
  const sh = blocks.filter((b) => b.info === 'sh');
  assert.deepEqual(
    sh.filter((b) => b.lines.some((l) => SETUP.test(l.replace(/#.*$/, '')))).map((b) => `README.md line ${b.firstLine}`),
    [],
    'sh blocks are requests to a running gateway; setup commands go in shell blocks',
  );
  return sh;
}

test('the README has sh examples to run, and names the setup commands shell', () => {
  assert.ok(shBlocks().length >= 5);
  assert.deepEqual(
    blocks.filter((b) => !['sh', 'shell', 'js'].includes(b.info)).map((b) => `line ${b.firstLine}: \`\`\`${b.info}`),
    [],
    'every command block is sh (run by this test) or shell (setup, not run)',
  );
});

test('every sh block of README.md runs as pasted against npm run dev, top to bottom', { timeout: 600_000 }, async () => {
  const found: string[] = [];
  for (const block of shBlocks()) {
    const script = join(work, `readme-${block.firstLine}.sh`);
    writeFileSync(script, onDevGateway(block.lines.join('\n')) + '\n');
    const result = await runScript(script, []);
    found.push(...problems((line) => `README.md line ${block.firstLine + line - 1}`, block.lines, result));
  }
  assert.deepEqual(found, []);
});

test('examples/curl.sh runs against npm run dev', { timeout: 120_000 }, async () => {
  const lines = readFileSync('examples/curl.sh', 'utf8').split('\n');
  const result = await runScript('examples/curl.sh', [dev.url, 'readme-demo']);
  assert.deepEqual(problems((line) => `examples/curl.sh line ${line}`, lines, result), []);
});

test("the README's WebSocket snippet runs as shown on this Node version and prints a record", { timeout: 120_000 }, async () => {
  const snippets = blocks.filter((b) => b.info === 'js');
  assert.equal(snippets.length, 1);
  // Inside the checkout, so that `ws` resolves from its node_modules as it does in a project that installed it.
  mkdirSync('test-output', { recursive: true });
  const file = join('test-output', `readme-websocket-${process.pid}.mjs`);
  writeFileSync(file, onDevGateway(snippets[0]!.lines.join('\n')) + '\n');
  try {
    const printed = await new Promise<string>((resolve, reject) => {
      const child = execFile(process.execPath, [file], { timeout: 60_000 }, (error, stdout, stderr) => {
        if (!stdout.trim()) reject(new Error(`the snippet printed nothing: ${String(error ?? '')}\n${stderr}`));
      });
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) {
          child.kill();
          resolve(out);
        }
      });
    });
    // partition, offset, key, value: the record the first requests produced to "orders".
    assert.match(printed, /^\d+ \d+ \S+/);
  } finally {
    rmSync(file, { force: true });
  }
});

test('the whole session, start included, logged nothing at error level and no stack trace', () => {
  const lines = dev
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string });
  assert.ok(lines.length > 0, 'the gateway logged its start');
  assert.deepEqual(
    lines.filter((l) => l.level >= 50 || JSON.stringify(l).includes('"stack"')).map((l) => JSON.stringify(l).slice(0, 300)),
    [],
    'a normal session with the README examples needs no person; retries that succeeded are debug',
  );
});
