/**
 * Records over plain HTTP: a topic as Server-Sent Events (src/sse streams
 * it), and a stateless page of one partition from an offset. Both read
 * through the process's subscription engine, as WebSocket subscriptions do.
 */
import type { Request, Response } from 'express';
import type { AuthService, ConnectionQuota } from '../../auth/index.js';
import { GatewayError } from '../../common/index.js';
import type { MetadataService, SubscriptionEngine } from '../../kafka/index.js';
import { encodedBody, keyFilter } from '../../records/index.js';
import { EVENT_STREAM_HEADERS, streamStart, type EventStreams, type ResumeToken } from '../../sse/index.js';
import { principalOf } from '../request-auth.js';
import type { Handlers } from '../contract.js';

export interface EventRoutesDeps {
  readonly events: EventStreams;
  readonly subscriptions: SubscriptionEngine;
  readonly metadata: MetadataService;
  /** How long a page read may wait for Kafka. */
  readonly readTimeoutMs: number;
  /** Streams held at once per client address and per principal. */
  readonly streamQuota: ConnectionQuota;
  /** Joining a group (`group`) is checked on the group's name. */
  readonly auth: AuthService;
}

/** The resume token a client sent: the header (what a reconnecting EventSource sends) wins over the query parameter. */
function resumeToken(req: Request, query: string | undefined): ResumeToken | undefined {
  const header = req.headers['last-event-id'];
  if (typeof header === 'string' && header.trim() !== '') return { token: header.trim(), pointer: '/header/Last-Event-ID' };
  if (query !== undefined && query !== '') return { token: query, pointer: '/query/lastEventId' };
  return undefined;
}

function requireEventStreamAccepted(req: Request, res: Response): void {
  if (req.accepts('text/event-stream')) return;
  res.vary('Accept');
  throw new GatewayError('GW_ERR_NOT_ACCEPTABLE', `This operation answers only text/event-stream, which the request's Accept (${req.headers.accept}) does not take.`);
}

const COMMA = Buffer.from(',');

export function eventHandlers({ events, subscriptions, metadata, readTimeoutMs, streamQuota, auth }: EventRoutesDeps): Pick<Handlers, 'streamTopicEvents' | 'readPartitionRecords'> {
  return {
    streamTopicEvents: async ({ path, query, req, res }) => {
      requireEventStreamAccepted(req, res);
      const { topic } = path;
      const keys = keyFilter(query.key, query.keyFormat, '/query/key');
      const from = streamStart(topic, query.from, resumeToken(req, query.lastEventId));
      await metadata.requireTopic(topic);
      if (req.method === 'HEAD') {
        res.writeHead(200, EVENT_STREAM_HEADERS).end();
        return;
      }
      const principal = principalOf(res);
      if (query.group !== undefined) auth.authorizeGroup(principal, 'consume', query.group);
      // Held until the response ends, however it ends.
      const release = streamQuota.take(req.socket.remoteAddress, principal);
      res.once('close', release);
      if (res.destroyed) release();
      await events.serve(res, { topic, group: query.group, from, fallback: query.format ?? 'text', headers: query.headers, keys, expiresAt: principal.expiresAt });
    },

    readPartitionRecords: async ({ path, query, res }) => {
      const { topic, partition } = path;
      const format = query.format ?? 'text';
      const offset = query.offset ?? 'earliest';
      await metadata.requireTopic(topic);
      const page = await subscriptions.read(topic, partition, offset === 'earliest' ? 'earliest' : BigInt(offset), {
        limit: query.limit ?? 100,
        maxBytes: query.maxBytes ?? 1024 * 1024,
        timeoutMs: readTimeoutMs,
      });
      // Each record's JSON is the one the streams encoded already, if any of them read it: the page is only joined around them.
      const parts: Buffer[] = [Buffer.from(`{"topic":${JSON.stringify(topic)},"partition":${partition},"records":[`)];
      page.records.forEach((record, i) => {
        if (i > 0) parts.push(COMMA);
        parts.push(encodedBody(record, { fallback: format, headers: query.headers ?? 'object' }));
      });
      parts.push(Buffer.from(`],"nextOffset":"${page.nextOffset}","logStartOffset":"${page.logStartOffset}","logEndOffset":"${page.logEndOffset}"}`));
      res.type('application/json').send(Buffer.concat(parts));
    },
  };
}
