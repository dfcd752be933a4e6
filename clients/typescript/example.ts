/**
 * The TypeScript client: openapi-fetch typed by schema.d.ts, which
 * openapi-typescript generates from openapi.yaml
 * (`scripts/generate-clients.sh typescript`). A wrong path, parameter or
 * body is a compile error, so this file breaks when the spec changes under it.
 *
 * test/clients.test.ts runs `exercise()` against a live gateway; the Python
 * and Go programs beside this one do the same steps and print the same
 * ClientReport, so the test checks all three alike.
 */
import createClient from 'openapi-fetch';
import type { paths } from './schema.js';

/** What every client program reports, as JSON. `produced: null` marks produce as not in the spec yet. */
export interface ClientReport {
  health: string;
  ready: string;
  /** The `openapi:` version line of the served contract. */
  openapi: string;
  /** Offsets the gateway gave for the produced records, in request order. */
  produced: { partition: number; offset: string }[] | null;
  /** The topic's partition count as getTopic reports it. */
  partitions: number;
}

/** The records each client produces: the test reads them back with a plain Kafka consumer. */
export function sampleRecords(language: string): { key: string; value: { language: string; n: number } }[] {
  return [0, 1, 2].map((n) => ({ key: `${language}-${n}`, value: { language, n } }));
}

export async function exercise(baseUrl: string, topic: string): Promise<ClientReport> {
  const client = createClient<paths>({ baseUrl });

  const health = await client.GET('/healthz');
  if (!health.data) throw new Error(`GET /healthz answered ${health.response.status}`);
  const ready = await client.GET('/readyz');
  if (!ready.data) throw new Error(`GET /readyz answered ${ready.response.status}: ${JSON.stringify(ready.error)}`);
  const spec = await client.GET('/openapi.yaml', { parseAs: 'text' });
  if (spec.data === undefined) throw new Error(`GET /openapi.yaml answered ${spec.response.status}`);
  const version = /^openapi: *(\S+)/m.exec(spec.data)?.[1] ?? '';

  // --- PRODUCE ---
  const sent = await client.POST('/v1/topics/{topic}/records', {
    params: { path: { topic } },
    body: { records: sampleRecords('typescript') },
  });
  if (!sent.data) throw new Error(`produce answered ${sent.response.status}: ${JSON.stringify(sent.error)}`);
  const produced = sent.data.offsets.map(({ partition, offset }) => ({ partition, offset }));

  // --- TOPIC METADATA ---
  const meta = await client.GET('/v1/topics/{topic}', { params: { path: { topic } } });
  if (!meta.data) throw new Error(`topic metadata answered ${meta.response.status}: ${JSON.stringify(meta.error)}`);
  const partitions = meta.data.partitions.length;

  return { health: health.data.status, ready: ready.data.status, openapi: version, produced, partitions };
}
