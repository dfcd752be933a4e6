/**
 * The limit of HTTP produce on this machine: a plain `node:http` server
 * that reads the same request bodies as the gateway, parses them, and hands
 * the same records to the same producer (the gateway's ProduceService, its
 * shared batches and its idempotent session), with nothing else: no
 * routing framework, no contract or record validation, no auth, no
 * metrics, no logging. Whatever the gateway spends beyond this is its own.
 *
 * Run as its own process, like the gateway (bench/lib.ts
 * startGatewayProcess), so that its CPU is measured apart from the load
 * generator's. It prints the gateway's "listening" log line and answers
 * /readyz, so the bench starts both the same way.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/common/index.js';
import { createKafkaLayer, type OutgoingRecord } from '../src/kafka/index.js';

interface BodyRecord {
  key?: unknown;
  value?: unknown;
}

const config = loadConfig(process.env);
const logger = createLogger('warn');
const kafka = createKafkaLayer(config, logger);
// firstAttempt starts connecting and resolves once the first try is over.
await kafka.firstAttempt();

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** The least any server must do with a record: its key and value as bytes, in the format the query names. */
function toBytes(data: unknown, format: string | null): Buffer | null {
  if (data === undefined || data === null) return null;
  if (format === 'binary') return Buffer.from(data as string, 'base64');
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return Buffer.from(JSON.stringify(data), 'utf8');
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://limit');
  if (url.pathname === '/readyz') {
    res.end('ok');
    return;
  }
  const topic = /^\/v1\/topics\/([^/]+)\/records$/.exec(url.pathname)?.[1];
  if (req.method !== 'POST' || topic === undefined) {
    res.statusCode = 404;
    res.end();
    return;
  }
  const keyFormat = url.searchParams.get('keyFormat');
  const valueFormat = url.searchParams.get('valueFormat');
  readBody(req)
    .then(async (body) => {
      const { records } = JSON.parse(body.toString('utf8')) as { records: BodyRecord[] };
      const outgoing: OutgoingRecord[] = records.map((r) => ({ key: toBytes(r.key, keyFormat), value: toBytes(r.value, valueFormat) }));
      const produced = await kafka.produce.send(await kafka.produce.check(topic, outgoing));
      const answer = JSON.stringify({ topic, offsets: produced.map(({ partition, offset, timestamp }) => ({ partition, offset, timestamp })) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
    })
    .catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'gateway listening', url: `http://127.0.0.1:${port}` })}\n`);
});

process.once('SIGTERM', () => {
  server.close();
  kafka.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
