/**
 * Records in both directions, for every transport. Incoming (to-kafka.ts):
 * record shapes as clients send them (JSON and NDJSON bodies, Confluent
 * v2, WebSocket frames) to Kafka bytes, then the one record pipeline
 * (pipeline.ts) that checks and produces them the same way whichever
 * transport they came by. Outgoing (to-json.ts): a consumed record's key,
 * value and headers as JSON, shared by WebSocket frames, SSE events and
 * partition pages. Knows neither HTTP nor WebSocket.
 */
export { MAX_JSON_DEPTH, decodeRecord, nestsDeeperThan, recordPointer, type DataFormat, type DecodedRecord, type Formats } from './to-kafka.js';
export { RecordPipeline, answer, type PipelineDeps, type ProduceAnswer } from './pipeline.js';
export { MAX_KEYS, keyFilter, type KeyFormat } from './key-filter.js';
export { encodedBody, ownedConcat, type Fallback, type FrameForm, type HeaderForm } from './to-json.js';
