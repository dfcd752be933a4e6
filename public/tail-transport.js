// How a live tail gets its records. Each transport turns one topic's stream
// into calls of the same handlers, so the tail (tail.js) neither knows nor
// cares how records travel: the WebSocket protocol of docs/websocket.md, or
// Server-Sent Events (GET /v1/topics/{topic}/events, docs/events.md), which
// filters keys on the gateway.
//
// A transport is { id, label, filtersKeys, open(options, handlers) }:
//   options:  { topic, from, format, key }   from: 'latest' | 'earliest' | epoch ms
//   handlers: { onOpen({ via }), onRecord(record), onProblem(problem), onClose(reason) }
//   open() returns { pause(), resume(), close() }. While paused a transport
//   stops the flow at the server (credit, or closing an event stream and
//   resuming from its last event id), so the page never buffers without bound.

import { get, topicPath } from './api.js';
import { authorizationHeaders, websocketProtocols } from './credentials.js';

/** Records the gateway may send before the page grants more; at most this many wait in the page while paused. */
export const CREDIT_WINDOW = 500;

const webSocketTransport = {
  id: 'websocket',
  label: 'WebSocket',
  filtersKeys: false, // the subscribe frame has no key filter: the tail filters what arrives
  open(options, handlers) {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;
    const socket = new WebSocket(url, websocketProtocols());
    const sub = `tail-${Math.random().toString(36).slice(2, 10)}`;
    let paused = false;
    let ungranted = 0;
    let opened = false;
    let subscribed = false;
    let closedByPage = false;

    const send = (frame) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
    };
    const grant = () => {
      if (ungranted > 0) send({ op: 'credit', sub, n: ungranted });
      ungranted = 0;
    };

    socket.addEventListener('open', () => {
      opened = true;
      send({ op: 'subscribe', id: sub, topics: [options.topic], from: options.from, format: options.format, credit: CREDIT_WINDOW });
    });
    socket.addEventListener('message', (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.op === 'record' && frame.sub === sub) {
        ungranted += 1;
        // Credit goes back in quarters of the window: never starved, never one frame per record.
        if (!paused && ungranted >= CREDIT_WINDOW / 4) grant();
        handlers.onRecord(frame);
      } else if (frame.op === 'subscribed' && frame.id === sub) {
        subscribed = true;
        handlers.onOpen({ via: 'WebSocket' });
      } else if (frame.op === 'error' && (frame.id === sub || frame.sub === sub || frame.id === undefined)) {
        handlers.onProblem(frame);
        if (!subscribed || frame.id === sub) {
          closedByPage = true;
          socket.close(1000, 'subscription refused');
          handlers.onClose(null);
        }
      }
    });
    socket.addEventListener('close', async (event) => {
      if (closedByPage) return;
      if (event.code === 4401) {
        handlers.onProblem({ status: 401, title: 'Credential expired', detail: 'The token this tail was opened with expired; enter a new one and start again.' });
      } else if (!opened) {
        // A refused upgrade reaches a browser only as code 1006. Asking the same
        // endpoint over plain HTTP, with the same credential, shows why (401, 403, 429, 503);
        // 426 means the gateway would have taken the upgrade.
        try {
          await get('/v1/ws');
          handlers.onProblem({ status: 0, title: 'WebSocket refused', detail: 'The gateway did not take the WebSocket connection.' });
        } catch (error) {
          handlers.onProblem(error.status === 426 ? { status: 0, title: 'WebSocket failed', detail: 'The connection could not be opened (a proxy in between may not pass WebSockets).' } : error);
        }
      } else if (event.code !== 1000) {
        handlers.onProblem({ status: 0, title: 'Connection lost', detail: `The WebSocket closed (${event.code}${event.reason ? `: ${event.reason}` : ''}).` });
      }
      handlers.onClose(event.reason || null);
    });

    return {
      pause() {
        paused = true;
      },
      resume() {
        paused = false;
        grant();
      },
      close() {
        closedByPage = true;
        if (subscribed) send({ op: 'unsubscribe', id: sub });
        if (socket.readyState <= WebSocket.OPEN) socket.close(1000, 'tail stopped');
      },
    };
  },
};

/** How long to wait before reconnecting an event stream the gateway ended or the network broke, unless it said otherwise (retry:). */
const DEFAULT_RETRY_MS = 2000;

/**
 * Server-Sent Events read with fetch rather than EventSource: fetch can send
 * the credential as a header, so it never goes into a URL (docs/security.md),
 * and it can set Last-Event-ID itself. Pausing closes the stream; resuming
 * opens it again after the last event the page has, so nothing is missed or
 * repeated, and nothing waits in the page but what had already arrived.
 */
const eventStreamTransport = {
  id: 'sse',
  label: 'Server-Sent Events',
  filtersKeys: true, // key= filters on the gateway
  open(options, handlers) {
    let lastEventId = null;
    let retryMs = DEFAULT_RETRY_MS;
    let aborter = null;
    let reconnectTimer = null;
    let paused = false;
    let closed = false;
    let opened = false;

    const finish = (reason) => {
      if (closed) return;
      closed = true;
      handlers.onClose(reason);
    };

    const url = () => {
      const query = new URLSearchParams({ from: String(options.from), format: options.format });
      if (options.key) query.append('key', options.key);
      return topicPath(options.topic, `/events?${query}`);
    };

    /** One event: a record goes to the tail; an error is the gateway ending the stream, saying why. */
    const dispatch = (event) => {
      if (event.id !== undefined) lastEventId = event.id;
      if (event.retry !== undefined) retryMs = event.retry;
      if (event.data === undefined) return undefined;
      const data = JSON.parse(event.data);
      if (event.event === 'record') handlers.onRecord(data);
      else if (event.event === 'error') return data;
      return undefined;
    };

    const connect = async () => {
      reconnectTimer = null;
      aborter = new AbortController();
      const signal = aborter.signal;
      const headers = { Accept: 'text/event-stream', ...authorizationHeaders() };
      if (lastEventId) headers['Last-Event-ID'] = lastEventId;
      let ending = null;
      try {
        const response = await fetch(url(), { headers, signal, credentials: 'omit', cache: 'no-store' });
        if (!response.ok) {
          let problem;
          try {
            problem = await response.json();
          } catch {
            problem = { status: response.status, title: `HTTP ${response.status}`, detail: '' };
          }
          handlers.onProblem({ status: response.status, ...problem });
          finish(null);
          return;
        }
        if (!opened) {
          opened = true;
          handlers.onOpen({ via: 'Server-Sent Events' });
        }
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
          buffer = blocks.pop();
          for (const block of blocks) ending = dispatch(parseEvent(block)) ?? ending;
        }
      } catch (error) {
        if (signal.aborted) return; // paused or closed by the page
        ending = { status: 0, title: 'Connection lost', detail: `The event stream broke (${error?.message ?? error}); reconnecting.` };
      }
      if (closed || paused) return;
      if (ending) handlers.onProblem(ending);
      // As EventSource does: the gateway ended the stream for a reason a retry may cure (shutdown, Kafka away,
      // a broken network), so go on after the last event, on whichever instance answers. Refusals are final.
      if (ending && ending.status >= 400 && ending.status < 500) {
        finish(ending.detail ?? null);
        return;
      }
      reconnectTimer = setTimeout(connect, retryMs);
    };

    void connect();
    return {
      pause() {
        paused = true;
        clearTimeout(reconnectTimer);
        aborter?.abort();
      },
      resume() {
        if (!paused || closed) return;
        paused = false;
        void connect();
      },
      close() {
        closed = true;
        clearTimeout(reconnectTimer);
        aborter?.abort();
      },
    };
  },
};

/** The fields of one event-stream block (WHATWG rules): id, event, data lines joined, retry; comments dropped. */
function parseEvent(block) {
  const event = {};
  const data = [];
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (line === '' || line.startsWith(':')) continue;
    const at = line.indexOf(':');
    const name = at === -1 ? line : line.slice(0, at);
    const value = at === -1 ? '' : line.slice(at + 1).replace(/^ /, '');
    if (name === 'id') event.id = value;
    else if (name === 'event') event.event = value;
    else if (name === 'data') data.push(value);
    else if (name === 'retry' && /^\d+$/.test(value)) event.retry = Number(value);
  }
  if (data.length > 0) event.data = data.join('\n');
  return event;
}

export const TRANSPORTS = [webSocketTransport, eventStreamTransport];
