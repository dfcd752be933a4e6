/**
 * A record as it left Kafka, decoded once from a fetch and shared by every
 * subscription that reads it: nothing here may be changed after decoding.
 */
import type { RecordsBatch } from '@platformatic/kafka';

export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  readonly key: Buffer | null;
  /** The key's bytes as a latin1 string, made once per record, for key filters to compare. */
  readonly keyId: string | null;
  readonly value: Buffer | null;
  /** In the order the producer wrote them; a name may repeat. */
  readonly headers: ReadonlyArray<readonly [name: string, value: Buffer | null]>;
  /** Bytes this record holds in memory, for flow control. */
  readonly size: number;
}

const IS_CONTROL = 1 << 5;
const LOG_APPEND_TIME = 1 << 3;
/** Roughly what a record costs besides its key, value and headers. */
const RECORD_OVERHEAD_BYTES = 96;

/** A copy that does not keep the whole fetch response alive for one small slice of it. */
const own = (bytes: Buffer | null): Buffer | null => (bytes === null ? null : Buffer.from(bytes));

/** Shared by every record without headers, most of them: an empty array each was garbage for every record fetched. */
const NO_HEADERS: ConsumedRecord['headers'] = Object.freeze([]);

export interface DecodedRun {
  readonly records: ConsumedRecord[];
  /** The offset after the last one the batches covered, control records and compacted gaps included. */
  readonly next: bigint;
}

/**
 * The records of one partition's fetched batches at or after `from`, in
 * offset order. Transaction markers are skipped but still move `next`
 * past them, so a reader never asks for the same marker twice.
 */
export function decodeBatches(topic: string, partition: number, batches: readonly RecordsBatch[], from: bigint): DecodedRun {
  const records: ConsumedRecord[] = [];
  let next = from;
  for (const batch of batches) {
    const batchEnd = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
    if (batchEnd > next) next = batchEnd;
    if ((batch.attributes & IS_CONTROL) !== 0) continue;
    const appendTime = (batch.attributes & LOG_APPEND_TIME) !== 0;
    for (const record of batch.records) {
      const offset = batch.firstOffset + BigInt(record.offsetDelta);
      if (offset < from) continue;
      const key = own(record.key);
      const value = own(record.value);
      let size = RECORD_OVERHEAD_BYTES + (key?.length ?? 0) + (value?.length ?? 0);
      const headers =
        record.headers.length === 0
          ? NO_HEADERS
          : record.headers.map(([name, headerValue]) => {
              const text = name === null ? '' : name.toString('utf8');
              size += text.length + (headerValue?.length ?? 0);
              return [text, own(headerValue)] as const;
            });
      const timestamp = Number(appendTime ? batch.maxTimestamp : batch.firstTimestamp + record.timestampDelta);
      records.push({ topic, partition, offset, timestamp, key, keyId: key === null ? null : key.toString('latin1'), value, headers, size });
    }
  }
  return { records, next };
}
