/**
 * Where a subscription starts, as clients say it: `from` as a query
 * parameter (WebSocket single-topic endpoint, SSE event streams) or in a
 * subscribe frame. Both take latest (the default), earliest or an instant;
 * a frame may also name offsets per partition.
 */
import { checkedRfc3339, queryInstant } from '../common/index.js';
import type { StartPosition } from '../kafka/index.js';

const WORDS = ['latest', 'earliest'] as const;

/**
 * `from` as a query parameter: latest (also when left out), earliest, or an
 * instant; anything else is GW_ERR_VALIDATION pointing at /query/from.
 */
export function startFromQuery(from: string | undefined): StartPosition {
  const text = from ?? 'latest';
  if (text === 'latest' || text === 'earliest') return { kind: text };
  return { kind: 'timestamp', timestamp: queryInstant('from', text, WORDS) };
}

/** A subscribe frame's `from`: 'latest' | 'earliest' | an RFC 3339 date-time or epoch ms | {topic: {partition: offset}}. */
export type FrameStart = string | number | Readonly<Record<string, Readonly<Record<string, string | number>>>>;

/** A subscribe frame's `from`, which the frame's schema has checked: latest when left out. */
export function startFromFrame(from: FrameStart | undefined): StartPosition {
  if (from === undefined || from === 'latest') return { kind: 'latest' };
  if (from === 'earliest') return { kind: 'earliest' };
  if (typeof from === 'number') return { kind: 'timestamp', timestamp: from };
  if (typeof from === 'string') return { kind: 'timestamp', timestamp: checkedRfc3339(from) };
  const offsets: Record<string, Record<string, string>> = {};
  for (const [topic, partitions] of Object.entries(from)) {
    offsets[topic] = Object.fromEntries(Object.entries(partitions).map(([p, o]) => [p, String(o)]));
  }
  return { kind: 'offsets', offsets };
}
