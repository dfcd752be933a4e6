/** The one record pipeline: client record shapes to Kafka bytes, checked and produced the same way for every transport. */
export { MAX_JSON_DEPTH, decodeRecord, nestsDeeperThan, recordPointer, type DataFormat, type DecodedRecord, type Formats } from './decode.js';
export { RecordPipeline, answer, type PipelineDeps, type ProduceAnswer } from './produce.js';
export { MAX_KEYS, keyFilter, type KeyFormat } from './key-filter.js';
