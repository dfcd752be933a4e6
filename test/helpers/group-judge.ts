/**
 * An independent judge of one consumer group's members, from the frames
 * their clients received, in the order this process received them (one
 * counter across every socket). It knows nothing of the gateway: only
 * `subscribed`, `assigned`, `record` and `acked` frames, and when a
 * client's socket closed.
 *
 * - A partition is a member's from the frame that gives it to it until the
 *   frame that takes it away or its socket closes; a record delivered by a
 *   member that does not hold its partition, or a partition given to one
 *   member while another holds it, is a violation.
 * - Once the group confirmed an ack (`acked`), no member may receive that
 *   offset or an earlier one of the partition again.
 */
import type { Frame } from './ws.js';

export interface JudgedFrame {
  readonly at: number;
  readonly member: string;
  readonly frame: Frame;
}

let clock = 0;

/** The next tick of the one clock every recorder shares. */
export function tick(): number {
  return clock++;
}

/** Records what one member's socket received, for the judge. */
export function record(socket: { on(event: 'message', listener: (data: Buffer) => void): unknown; on(event: 'close', listener: () => void): unknown }, member: string, into: JudgedFrame[]): void {
  socket.on('message', (data: Buffer) => into.push({ at: tick(), member, frame: JSON.parse(data.toString()) as Frame }));
  socket.on('close', () => into.push({ at: tick(), member, frame: { op: 'closed' } }));
}

const partitionsOf = (frame: Frame): string[] =>
  ((frame.partitions as Array<{ topic: string; partitions: number[] }> | undefined) ?? []).flatMap(({ topic, partitions }) => partitions.map((p) => `${topic}/${p}`));

export function judge(frames: readonly JudgedFrame[]): string[] {
  const events = [...frames].sort((a, b) => a.at - b.at);
  const holder = new Map<string, string>();
  const holds = new Map<string, Set<string>>();
  /** Per partition: the highest offset the group confirmed as committed. */
  const acked = new Map<string, bigint>();
  const violations: string[] = [];
  for (const { member, frame } of events) {
    if (frame.op === 'subscribed' || frame.op === 'assigned' || frame.op === 'closed') {
      const now = new Set(frame.op === 'closed' ? [] : partitionsOf(frame));
      for (const p of holds.get(member) ?? []) if (!now.has(p) && holder.get(p) === member) holder.delete(p);
      for (const p of now) {
        const other = holder.get(p);
        if (other !== undefined && other !== member) violations.push(`${member} was given ${p} while ${other} held it`);
        holder.set(p, member);
      }
      holds.set(member, now);
    } else if (frame.op === 'record') {
      const p = `${String(frame.topic)}/${String(frame.partition)}`;
      const offset = BigInt(String(frame.offset));
      if (holder.get(p) !== member) violations.push(`${member} delivered ${p}@${offset} while ${holder.get(p) ?? 'nobody'} held it`);
      const done = acked.get(p);
      if (done !== undefined && offset <= done) violations.push(`${member} was delivered ${p}@${offset} after the group confirmed a commit past it (${done})`);
    } else if (frame.op === 'acked') {
      const p = `${String(frame.topic)}/${String(frame.partition)}`;
      const offset = BigInt(String(frame.offset));
      if (offset > (acked.get(p) ?? -1n)) acked.set(p, offset);
    }
  }
  return violations;
}
