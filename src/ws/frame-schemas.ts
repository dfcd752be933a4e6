/**
 * The JSON Schemas of the frames a WebSocket client sends, read from
 * docs/asyncapi.yaml: the document clients read is the one the gateway
 * validates with, so the two cannot drift apart. Read once, at import.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { asyncapiPath } from '../common/index.js';

/** The operations a client may send, each a message of the AsyncAPI document. */
export const CLIENT_OPS = ['subscribe', 'ack', 'credit', 'unsubscribe', 'produce', 'answer'] as const;
export type ClientOp = (typeof CLIENT_OPS)[number];

type Schema = Record<string, unknown>;

interface AsyncApiDocument {
  components?: { schemas?: Record<string, Schema>; messages?: Record<string, { payload?: Schema }> };
}

/**
 * Replaces each local `$ref` (`#/components/schemas/<name>`) by the schema
 * it names, so that every payload compiles on its own.
 */
function inline(value: unknown, schemas: Readonly<Record<string, Schema>>, depth = 0): unknown {
  if (depth > 32) throw new Error(`${asyncapiPath}: $ref nesting deeper than 32`);
  if (Array.isArray(value)) return value.map((item) => inline(item, schemas, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  const ref = (value as { $ref?: unknown }).$ref;
  if (typeof ref === 'string') {
    const name = /^#\/components\/schemas\/([A-Za-z0-9_]+)$/.exec(ref)?.[1];
    const target = name === undefined ? undefined : schemas[name];
    if (!target) throw new Error(`${asyncapiPath}: cannot resolve ${ref}`);
    return inline(target, schemas, depth + 1);
  }
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, inline(inner, schemas, depth + 1)]));
}

/** Each client operation's payload schema, with its references resolved. Throws naming the document when one is missing. */
export function loadClientFrameSchemas(path = asyncapiPath): Record<ClientOp, Schema> {
  const document = parse(readFileSync(path, 'utf8')) as AsyncApiDocument;
  const schemas = document.components?.schemas ?? {};
  const messages = document.components?.messages ?? {};
  return Object.fromEntries(
    CLIENT_OPS.map((op) => {
      const payload = messages[op]?.payload;
      if (!payload) throw new Error(`${path}: no payload for the client message ${op}`);
      return [op, inline(payload, schemas) as Schema];
    }),
  ) as Record<ClientOp, Schema>;
}
