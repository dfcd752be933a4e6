/**
 * The one ajv setup for what clients send (openapi.yaml's schemas and the
 * WebSocket client frames): draft 2020-12, every error reported, formats
 * checked, and `date-time` read by the gateway's one timestamp parser, so a
 * schema lets through exactly the instants the gateway can read. (Topic
 * JSON Schemas are a client's own and are compiled by src/schema/ with
 * ajv-formats as it stands.)
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parseRfc3339 } from './timestamp.js';

// ajv-formats is published as CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/**
 * A new ajv for client input. `coerce`: for parameters, which arrive as
 * strings: coerced to their declared types ('array': a parameter given once
 * where a list is declared, key=a, is a list of one), defaults filled in.
 */
export function edgeAjv({ coerce = false }: { coerce?: boolean } = {}): Ajv2020 {
  const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true, coerceTypes: coerce ? 'array' : false, useDefaults: coerce }));
  ajv.addFormat('date-time', { type: 'string', validate: (text: string) => parseRfc3339(text) !== undefined });
  return ajv;
}
