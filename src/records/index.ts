/**
 * Records in both directions, for every transport. One converter per data
 * format (formats.ts: json, text, binary), each both ways. Incoming (to-kafka.ts):
 * record shapes as clients send them (JSON and NDJSON bodies, Confluent
 * v2, WebSocket frames) to Kafka bytes, then the one record pipeline
 * (pipeline.ts) that checks and produces them the same way whichever
 * transport they came by. Outgoing (to-json.ts): a consumed record's key,
 * value and headers as JSON, shared by WebSocket frames, SSE events and
 * partition pages; Confluent v2 reads convert keys and values through the
 * same converters into their own envelope. Knows neither HTTP nor WebSocket.
 */
export { MAX_JSON_DEPTH, formats, isRegistryFormat, nestsDeeperThan, registryConverter, type DataFormat, type FormatConverter, type RegistryFormat } from './formats.js';
export { needsSchemas, resolveSchemas, type SchemaChoice, type SchemaChoices } from './registry-formats.js';
export { decodeRecord, recordPointer, type DecodedRecord, type Formats } from './to-kafka.js';
export { rawRecordValues } from './raw-values.js';
export { jsonBounds } from './json-bytes.js';
export { RecordPipeline, answer, misfits, type PipelineDeps, type ProduceAnswer } from './pipeline.js';
export { MAX_KEYS, keyFilter, type KeyFormat } from './key-filter.js';
export { encodedBody, ownedConcat, type Fallback, type FrameForm, type HeaderForm } from './to-json.js';
