/**
 * One Kafka Metadata request (v8) over a plain socket, for the cluster
 * harness: the partitions of internal topics (__consumer_offsets, whose
 * leaders are the group coordinators) with their replicas and ISR, as one
 * node sees them. The Kafka client the gateway uses leaves internal topics
 * out of its metadata, and this harness should not change with that client.
 */
import { connect } from 'node:net';

export interface WirePartition {
  readonly errorCode: number;
  readonly partition: number;
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly offline: readonly number[];
}

export interface WireTopic {
  readonly errorCode: number;
  readonly name: string;
  readonly internal: boolean;
  /** By partition index. */
  readonly partitions: readonly WirePartition[];
}

export interface WireMetadata {
  /** The brokers this node knows alive (registered and not fenced), by id, as host:port. */
  readonly brokers: ReadonlyMap<number, string>;
  readonly controllerId: number;
  readonly topics: ReadonlyMap<string, WireTopic>;
}

const METADATA = 3;
const VERSION = 8;

/** Asks the node at `address` (host:port) for the metadata of every topic, internal ones included. */
export function fetchMetadata(address: string, timeoutMs = 5000): Promise<WireMetadata> {
  const [host, port] = splitAddress(address);
  const clientId = Buffer.from('cluster-harness');
  const header = Buffer.alloc(10);
  header.writeInt16BE(METADATA, 0);
  header.writeInt16BE(VERSION, 2);
  header.writeInt32BE(1, 4); // correlation id: one request per connection
  header.writeInt16BE(clientId.length, 8);
  // Null topics (-1): all of them; then auto-create topics, cluster and topic authorized operations, all false.
  const request = Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0]);
  const body = Buffer.concat([header, clientId, request]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);

  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`no metadata answer from ${address} within ${timeoutMs} ms`)));
    socket.once('error', fail);
    socket.once('close', () => reject(new Error(`${address} closed the connection before answering metadata`)));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
      socket.destroy();
      try {
        resolve(parseResponse(new Reader(received.subarray(4, 4 + received.readInt32BE(0)))));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.write(Buffer.concat([size, body]));
  });
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

function parseResponse(r: Reader): WireMetadata {
  r.int32(); // correlation id
  r.int32(); // throttle time
  const brokers = new Map<number, string>();
  r.array(() => {
    const id = r.int32();
    const host = r.string() ?? '';
    const port = r.int32();
    r.string(); // rack
    brokers.set(id, `${host}:${port}`);
  });
  r.string(); // cluster id
  const controllerId = r.int32();
  const topics = new Map<string, WireTopic>();
  r.array(() => {
    const errorCode = r.int16();
    const name = r.string() ?? '';
    const internal = r.int8() !== 0;
    const partitions: WirePartition[] = [];
    r.array(() => {
      const partition: WirePartition = {
        errorCode: r.int16(),
        partition: r.int32(),
        leader: r.int32(),
        leaderEpoch: r.int32(),
        replicas: r.array(() => r.int32()),
        isr: r.array(() => r.int32()),
        offline: r.array(() => r.int32()),
      };
      partitions[partition.partition] = partition;
    });
    r.int32(); // topic authorized operations
    topics.set(name, { errorCode, name, internal, partitions });
  });
  return { brokers, controllerId, topics };
}

class Reader {
  #offset = 0;
  constructor(private readonly buffer: Buffer) {}

  int8(): number {
    return this.buffer.readInt8(this.#advance(1));
  }
  int16(): number {
    return this.buffer.readInt16BE(this.#advance(2));
  }
  int32(): number {
    return this.buffer.readInt32BE(this.#advance(4));
  }
  string(): string | null {
    const length = this.int16();
    if (length < 0) return null;
    const start = this.#advance(length);
    return this.buffer.toString('utf8', start, start + length);
  }
  array<T>(item: () => T): T[] {
    const length = this.int32();
    return Array.from({ length: Math.max(length, 0) }, item);
  }
  #advance(bytes: number): number {
    const at = this.#offset;
    if (at + bytes > this.buffer.length) throw new Error('metadata response ends early');
    this.#offset += bytes;
    return at;
  }
}
