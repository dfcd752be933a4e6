/** Client-side record shapes to Kafka bytes, shared by HTTP and WebSocket produce. */
export { DATA_FORMATS, decodeRecord, parseFormat, type DataFormat, type DecodedRecord, type Formats } from './decode.js';
export { checkProduceTopic, checkSchema, isInternalTopic, produceBatch, produceChecked, schemasLoaded, type ProduceDeps } from './produce.js';
