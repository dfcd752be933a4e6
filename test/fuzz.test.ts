/**
 * No input makes the gateway answer 5xx. A bounded, seeded fuzz: a few
 * thousand generated requests across every operation of openapi.yaml
 * (junk, truncated and deeply nested JSON, wrong and lying content types and
 * encodings, hostile path and query values), each of which must get a
 * documented 4xx or 2xx with an error body in the operation's error shape.
 * Inputs that once broke the gateway are replayed first from
 * test/fixtures/fuzz-corpus.json; add to it whenever this test finds one.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { after, before, test } from 'node:test';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import request from 'supertest';
import { Contract, type Operation } from '../src/http/contract.js';
import { checkExchange } from './helpers/contract.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { appFor } from './helpers/scoped.js';
import type { TestGateway } from './helpers/gateway.js';
import { createTopic, deleteTopics, withAdmin } from './helpers/kafka.js';
import { seededRandom } from './helpers/seeded.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 3000);

interface FuzzCase {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  /** The body as text, or as base64 when `binary`. */
  readonly body?: string;
  readonly binary?: boolean;
  readonly note?: string;
}

const brokers = sharedBrokers();
let gw: TestGateway;
let topic: string;
const contract = Contract.load();

before(async (t) => {
  gw = await appFor(t, { BODY_LIMIT: '256kb' });
  topic = uniqueName('fuzz-existing');
  await createTopic(brokers, topic, 2);
});
after(async () => {
  // Junk that happened to be a valid createTopic body made topics named by the fuzzer.
  const made = await withAdmin(brokers, async (admin) => (await admin.listTopics()).filter((t) => t.startsWith('fuzz-')));
  await deleteTopics(brokers, [topic, ...made]);
});

function generator(random: () => number) {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const strings = ['', 'a', 'é', '\u0000', '💥'.repeat(3), '%', '../..', 'x'.repeat(300), '2026-01-31T12:00:00', 'Jan 31 2026', '1e400', '-1', 'true', '{}', 'null'];
  const numbers = [0, -1, 1.5, 2 ** 31, 2 ** 53 + 1, 1e308, -0];
  const json = (depth: number): unknown => {
    switch (depth > 3 ? int(4) : int(7)) {
      case 0:
        return pick(strings);
      case 1:
        return pick(numbers);
      case 2:
        return pick([true, false, null]);
      case 3:
        return `${pick(strings)}${int(1000)}`;
      case 4:
        return Array.from({ length: int(4) }, () => json(depth + 1));
      default: {
        const keys = ['records', 'key', 'value', 'headers', 'partition', 'timestamp', 'name', 'partitions', 'configs', 'type', 'keyFormat', 'valueFormat', '__proto__', 'constructor', pick(strings)];
        return Object.fromEntries(Array.from({ length: int(5) }, () => [pick(keys), json(depth + 1)]));
      }
    }
  };
  const deep = (n: number) => pick([`${'['.repeat(n)}${']'.repeat(n)}`, `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`]);
  const recordsBody = () => {
    const records = Array.from({ length: 1 + int(3) }, () => (random() < 0.3 ? `{"value":${deep(2000 + int(30_000))}}` : JSON.stringify(json(1))));
    return `{"records":[${records.join(',')}]}`;
  };
  const bodyText = (): string =>
    pick([
      () => JSON.stringify(json(0)),
      () => JSON.stringify(json(0)).slice(0, int(40)),
      () => deep(1 + int(50_000)),
      recordsBody,
      () => `${JSON.stringify(json(1))}\n${deep(int(30_000))}\n${JSON.stringify(json(1))}`,
      () => Buffer.from(Array.from({ length: int(200) }, () => int(256))).toString('latin1'),
      () => '{"records":[{"value":"w\u00f6rld"}]}',
    ])();
  const contentTypes = ['application/json', 'application/x-ndjson', 'application/vnd.kafka.json.v2+json', 'application/vnd.kafka.binary.v2+json', 'application/merge-patch+json', 'application/schema+json', 'text/plain', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', ''];
  const pathValue = (name: string) =>
    pick([
      () => (name === 'topic' ? topic : 'x'),
      () => `fuzz-${int(1e6)}`,
      () => encodeURIComponent(pick(strings) || '_'),
      () => pick(['%', '%zz', '%2F', '..', '.', '%00', '__consumer_offsets', '_gateway_schemas']),
      () => String(pick(numbers)),
    ])();
  const query = (op: Operation) => {
    const names = ['internal', 'prefix', 'configs', 'timestamp', 'keyFormat', 'valueFormat', 'from', 'group', 'format', pick(strings) || 'q'];
    const parts = Array.from({ length: int(4) }, () => `${encodeURIComponent(pick(names))}=${encodeURIComponent(String(pick([...strings, ...numbers])))}`);
    return op.method === 'GET' || random() < 0.5 ? parts.join('&') : '';
  };
  return (op: Operation): FuzzCase => {
    const path = op.template.replace(/\{(\w+)\}/g, (_m, name: string) => pathValue(name));
    const q = query(op);
    const headers: Record<string, string> = {};
    let body: string | undefined;
    let binary = false;
    if (op.method !== 'GET' || random() < 0.1) {
      const type = random() < 0.7 && op.body ? pick(op.body.mediaTypes) : pick(contentTypes);
      if (type) headers['content-type'] = type;
      body = bodyText();
      const encoding = int(6);
      if (encoding === 0) headers['content-encoding'] = pick(['gzip', 'br', 'deflate', 'compress', 'gzip, gzip']);
      if (encoding === 1) {
        headers['content-encoding'] = pick(['gzip', 'br']);
        body = (headers['content-encoding'] === 'gzip' ? gzipSync(body) : brotliCompressSync(body)).toString('base64');
        binary = true;
      }
    }
    return { method: op.method, path: q ? `${path}?${q}` : path, headers, body, binary };
  };
}

async function send(c: FuzzCase) {
  let req = request(gw.app)[c.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete'](c.path);
  for (const [name, value] of Object.entries(c.headers)) req = req.set(name, value);
  if (c.body !== undefined) req = req.send(c.binary ? Buffer.from(c.body, 'base64') : c.body);
  return req.buffer(true).parse((res, done) => {
    const chunks: Buffer[] = [];
    let answered = false;
    const answer = () => {
      if (answered) return;
      answered = true;
      done(null, Buffer.concat(chunks).toString('utf8'));
    };
    // An event stream ends only when its client leaves: its status, type and first bytes (retry:) are its answer.
    const streaming = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (streaming) {
        answer();
        // superagent types the parser's response as its own Response; in Node it is the IncomingMessage.
        (res as unknown as IncomingMessage).destroy();
      }
    });
    res.on('end', answer);
  });
}

/** The operation a request is for; undefined when the path matches none (or is not validly percent-encoded). */
function operationOf(c: FuzzCase): Operation | undefined {
  try {
    return contract.match(c.method, c.path.split('?')[0]!)?.operation;
  } catch {
    return undefined;
  }
}

async function check(c: FuzzCase, failures: string[]): Promise<void> {
  let res = await send(c);
  // A broker slow to answer on a loaded machine is a true 503 with Retry-After, not a bug: the same request
  // once more must then get its real answer. A 503 that repeats, or any other 5xx, is a failure.
  if (res.status === 503 && res.headers['retry-after'] !== undefined) {
    await new Promise((r) => setTimeout(r, 1000));
    res = await send(c);
  }
  const text = String(res.body ?? '');
  const contentType = String(res.headers['content-type'] ?? '');
  const problems: string[] = [];
  if (res.status >= 500) problems.push(`status ${res.status}`);
  if (res.status >= 400) {
    // Confluent's paths answer in its shape even where the contract has no operation for the request.
    const matched = operationOf(c);
    const format = matched
      ? matched.errorFormat
      : /^\/(topics|consumers|brokers)(\/|%2F|$)/i.test(c.path)
        ? 'confluent-v2'
        : /^\/schema-registry(\/|%2F|$)/i.test(c.path)
          ? 'schema-registry'
          : 'problem';
    const expected = { 'confluent-v2': 'application/vnd.kafka.v2+json', 'schema-registry': 'application/vnd.schemaregistry.v1+json', problem: 'application/problem+json' }[format];
    if (!contentType.startsWith(expected)) problems.push(`error as ${contentType || 'no content type'}`);
  }
  try {
    if (operationOf(c)) checkExchange({ method: c.method, path: c.path, status: res.status, contentType, text });
  } catch (error) {
    problems.push(`breaks openapi.yaml: ${(error as Error).message.slice(0, 300)}`);
  }
  if (problems.length > 0) failures.push(`${problems.join('; ')}\n    ${JSON.stringify({ ...c, body: c.body?.slice(0, 200) })}\n    answer: ${text.slice(0, 300)}`);
}

test('inputs that once broke the gateway get a 4xx problem', async () => {
  const corpus = JSON.parse(readFileSync('test/fixtures/fuzz-corpus.json', 'utf8')) as FuzzCase[];
  const failures: string[] = [];
  for (const c of corpus) {
    const body = c.body?.replace('$DEEP_ARRAY', `${'['.repeat(20_000)}${']'.repeat(20_000)}`);
    await check({ ...c, path: c.path.replace('$TOPIC', topic), body }, failures);
  }
  assert.deepEqual(failures, [], failures.join('\n'));
});

test(`${REQUESTS} generated requests across every operation: no 5xx, every error in its operation's error shape`, { timeout: 240_000 }, async () => {
  const random = seededRandom(SEED);
  const generate = generator(random);
  const operations = contract.operations;
  const failures: string[] = [];
  for (let i = 0; i < REQUESTS && failures.length < 20; i++) {
    await check(generate(operations[i % operations.length]!), failures);
  }
  assert.deepEqual(failures, [], `seed ${SEED}:\n${failures.join('\n')}`);
});
