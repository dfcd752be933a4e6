/**
 * One partition as every subscription of this process reads it: records
 * fetched once, held once in a small cache, and handed to each reader from
 * its own position. Readers at the same offset share one fetch; a reader
 * behind the others reads what the cache still holds, and what it no
 * longer holds through a fetch of its own offset on the same machinery.
 */
import type { GatewayError } from '../../common/index.js';
import type { ConsumedRecord, DecodedRun } from './consumed-record.js';

/** One subscription's place in one partition. */
export interface PartitionReader {
  /** The next offset this reader needs. */
  readonly position: bigint;
  /**
   * Records from `position` on, in order (none when only transaction
   * markers or a compacted gap lay there), and the offset to go on from.
   */
  deliver(records: readonly ConsumedRecord[], next: bigint): void;
  /** The partition cannot be read any more (the topic was deleted, access was refused). */
  fail(error: GatewayError): void;
}

/** What a stream needs from the fetch machinery. */
export interface FetchQueue {
  /** The stream has readers waiting for records it does not hold. */
  need(stream: PartitionStream): void;
}

export interface StreamLimits {
  /** Records held for readers behind the newest; past this the oldest are dropped and re-fetched on demand. */
  readonly cacheBytes: number;
  /** The most a reader gets at once: one fetch's worth. */
  readonly deliveryBytes: number;
}

interface Run {
  from: bigint;
  readonly next: bigint;
  records: ConsumedRecord[];
  bytes: number;
}

export class PartitionStream {
  /** Cached runs of records, ordered by offset, never overlapping. */
  readonly #runs: Run[] = [];
  #cachedBytes = 0;
  /** Readers waiting for records, by the offset they wait at, in the order they started waiting. */
  readonly #waiting = new Map<bigint, Set<PartitionReader>>();
  readonly #readers = new Set<PartitionReader>();
  #drainScheduled = false;
  #failed?: GatewayError;
  /** The end of the log as the last fetch saw it; -1 until one answered. */
  highWatermark = -1n;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly queue: FetchQueue,
    private readonly limits: StreamLimits,
  ) {}

  get readerCount(): number {
    return this.#readers.size;
  }

  get cachedBytes(): number {
    return this.#cachedBytes;
  }

  attach(reader: PartitionReader): void {
    if (this.#failed) {
      const error = this.#failed;
      queueMicrotask(() => reader.fail(error));
      return;
    }
    this.#readers.add(reader);
  }

  detach(reader: PartitionReader): void {
    this.#readers.delete(reader);
    this.unwant(reader);
    if (this.#readers.size === 0) this.#drop(this.#runs.length);
  }

  /** The reader wants what follows its position; it gets it once, then asks again when it wants more. */
  want(reader: PartitionReader): void {
    if (!this.#readers.has(reader)) return;
    const at = reader.position;
    let readers = this.#waiting.get(at);
    if (!readers) {
      readers = new Set();
      this.#waiting.set(at, readers);
    }
    readers.add(reader);
    this.#scheduleDrain();
  }

  unwant(reader: PartitionReader): void {
    for (const [at, readers] of this.#waiting) {
      if (readers.delete(reader) && readers.size === 0) this.#waiting.delete(at);
    }
  }

  /**
   * The offset to fetch next for this partition: the longest-waiting one
   * the cache cannot serve, preferring offsets the log already holds (a
   * fetch there answers at once) to the end of the log (a fetch there
   * waits for new records). Readers at different offsets take turns.
   */
  nextFetchOffset(): bigint | undefined {
    let atEnd: bigint | undefined;
    for (const at of this.#waiting.keys()) {
      if (this.#covering(at)) continue;
      if (this.highWatermark < 0n || at < this.highWatermark) return at;
      atEnd ??= at;
    }
    return atEnd;
  }

  /** A fetch from `from` answered: keep what it brought and give it to whoever waits there. */
  fetched(from: bigint, run: DecodedRun, highWatermark: bigint): void {
    if (highWatermark >= 0n) this.highWatermark = highWatermark;
    if (run.next > from) this.#insert(from, run);
    this.#drain();
    // Still waiting there (nothing new yet): the others' turn comes first.
    const stillWaiting = this.#waiting.get(from);
    if (stillWaiting) {
      this.#waiting.delete(from);
      this.#waiting.set(from, stillWaiting);
    }
    this.#trim();
  }

  /**
   * `from` is outside the log: below its start (retention removed those
   * records) or past its end. Readers waiting there move to the nearest
   * offset that exists.
   */
  outOfRange(from: bigint, logStart: bigint, logEnd: bigint): void {
    const target = from < logStart ? logStart : logEnd;
    const readers = this.#waiting.get(from);
    if (!readers) return;
    this.#waiting.delete(from);
    for (const reader of [...readers]) reader.deliver([], target);
  }

  /** Ends every reader: the partition cannot be read any more. */
  fail(error: GatewayError): void {
    this.#failed = error;
    this.#waiting.clear();
    for (const reader of [...this.#readers]) reader.fail(error);
    this.#readers.clear();
    this.#drop(this.#runs.length);
  }

  /** The lowest position of any reader, for lag reporting; undefined without readers. */
  lowestPosition(): bigint | undefined {
    let lowest: bigint | undefined;
    for (const reader of this.#readers) if (lowest === undefined || reader.position < lowest) lowest = reader.position;
    return lowest;
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    queueMicrotask(() => {
      this.#drainScheduled = false;
      this.#drain();
    });
  }

  /** Serves every waiting reader the cache can serve; asks for a fetch for the others. */
  #drain(): void {
    const served: Array<[Set<PartitionReader>, readonly ConsumedRecord[], bigint]> = [];
    let missing = false;
    for (const [at, readers] of this.#waiting) {
      const hit = this.#read(at);
      if (!hit) {
        missing = true;
        continue;
      }
      this.#waiting.delete(at);
      served.push([readers, hit.records, hit.next]);
    }
    // Delivering may make readers want more at once; they are already out of the map.
    for (const [readers, records, next] of served) for (const reader of readers) reader.deliver(records, next);
    if (missing) this.queue.need(this);
  }

  #covering(at: bigint): Run | undefined {
    for (const run of this.#runs) if (run.from <= at && at < run.next) return run;
    return undefined;
  }

  /** Up to one delivery's worth of records from `at`, or undefined when the cache does not cover it. */
  #read(at: bigint): { records: ConsumedRecord[]; next: bigint } | undefined {
    const run = this.#covering(at);
    if (!run) return undefined;
    const { records } = run;
    let lo = 0;
    let hi = records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (records[mid]!.offset < at) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    let bytes = 0;
    while (end < records.length && (end === lo || bytes + records[end]!.size <= this.limits.deliveryBytes)) {
      bytes += records[end]!.size;
      end += 1;
    }
    const next = end === records.length ? run.next : records[end]!.offset;
    return { records: lo === 0 && end === records.length ? records : records.slice(lo, end), next };
  }

  #insert(from: bigint, run: DecodedRun): void {
    const bytes = run.records.reduce((sum, r) => sum + r.size, 0);
    // Runs this one overlaps hold the same records: the newer copy replaces them.
    for (let i = this.#runs.length - 1; i >= 0; i--) {
      const existing = this.#runs[i]!;
      if (existing.from < run.next && from < existing.next) {
        this.#cachedBytes -= existing.bytes;
        this.#runs.splice(i, 1);
      }
    }
    const index = this.#runs.findIndex((r) => r.from > from);
    const entry: Run = { from, next: run.next, records: run.records, bytes };
    if (index === -1) this.#runs.push(entry);
    else this.#runs.splice(index, 0, entry);
    this.#cachedBytes += bytes;
  }

  /** Releases what every reader has passed, then the oldest runs beyond the byte budget. */
  #trim(): void {
    const lowest = this.lowestPosition();
    if (lowest === undefined) {
      this.#drop(this.#runs.length);
      return;
    }
    let passed = 0;
    while (passed < this.#runs.length && this.#runs[passed]!.next <= lowest) passed += 1;
    this.#drop(passed);
    const first = this.#runs[0];
    if (first && first.from < lowest) {
      const keep = first.records.findIndex((r) => r.offset >= lowest);
      const dropped = keep === -1 ? first.records : first.records.slice(0, keep);
      const droppedBytes = dropped.reduce((sum, r) => sum + r.size, 0);
      first.records = keep === -1 ? [] : first.records.slice(keep);
      first.bytes -= droppedBytes;
      first.from = lowest;
      this.#cachedBytes -= droppedBytes;
    }
    let over = 0;
    let bytes = this.#cachedBytes;
    while (over < this.#runs.length - 1 && bytes > this.limits.cacheBytes) {
      bytes -= this.#runs[over]!.bytes;
      over += 1;
    }
    this.#drop(over);
  }

  #drop(count: number): void {
    for (const run of this.#runs.splice(0, count)) this.#cachedBytes -= run.bytes;
  }
}
