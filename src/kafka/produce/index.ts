/**
 * Producing: ProduceService takes records already encoded to bytes, places
 * them on partitions (Kafka's murmur2 for keys), checks the broker's
 * per-record rules and sends them in shared batches through one idempotent
 * ProducerSession, which speaks the Produce API itself.
 */
export { ProduceService, recordBytes, type CheckedBatch, type OutgoingRecord, type ProducedRecord } from './producer.js';
export { ProducerSession } from './producer-session.js';
