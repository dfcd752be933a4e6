import { startFromQuery } from '../edge-rules/index.js';
import type { StartPosition } from '../kafka/index.js';
import { decodeResumeToken } from './resume-token.js';

/** A resume token as it arrived, and the JSON Pointer of where (the header or the query parameter). */
export interface ResumeToken {
  readonly token: string;
  readonly pointer: string;
}

/**
 * Where an event stream starts: exactly after the last event its client
 * saw when it brings that event's id (even over a durable group's
 * commits; a partition the token does not name, added since, from its
 * start), otherwise where `from` says.
 */
export function streamStart(topic: string, from: string | undefined, resume?: ResumeToken): StartPosition {
  if (resume) {
    const positions = decodeResumeToken(topic, resume.token, resume.pointer);
    const offsets = Object.fromEntries([...positions].map(([partition, offset]) => [String(partition), String(offset)]));
    return { kind: 'offsets', offsets: { [topic]: offsets }, unlisted: 'earliest', exact: true, pointer: resume.pointer };
  }
  return startFromQuery(from);
}
