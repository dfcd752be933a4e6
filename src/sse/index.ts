/** Server-Sent Events on the subscription engine: event streams and the resume tokens their event ids carry. Never imports express. */
export { EVENT_STREAM_HEADERS, EventStreams, RETRY_MS, type EventStreamDeps, type EventStreamOptions, type EventStreamStats } from './stream.js';
export { streamStart, type ResumeToken } from './start.js';
export { decodeResumeToken, encodeResumeToken } from './resume-token.js';
