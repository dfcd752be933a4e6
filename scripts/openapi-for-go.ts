/**
 * Writes the copy of openapi.yaml that oapi-codegen reads. oapi-codegen
 * cannot express an OpenAPI 3.1 union of several non-null types (such as
 * `type: [string, number, boolean]`) and refuses the whole document, so each
 * such schema gets `x-go-type: interface{}` here: the Go client takes and
 * returns those values untyped, and openapi.yaml itself stays plain 3.1.
 * `[T, 'null']` needs no help (it becomes a pointer).
 *
 *   tsx scripts/openapi-for-go.ts <in> <out>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';

function widen(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(widen);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const schema = node as Record<string, unknown>;
  if (Array.isArray(schema.type) && schema.type.filter((t) => t !== 'null').length > 1) schema['x-go-type'] = 'interface{}';
  Object.values(schema).forEach(widen);
}

const [input, output] = process.argv.slice(2);
if (!input || !output) throw new Error('usage: tsx scripts/openapi-for-go.ts <in> <out>');
const spec: unknown = parse(readFileSync(input, 'utf8'));
widen(spec);
writeFileSync(output, stringify(spec));
