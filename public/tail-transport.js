// How a live tail gets its records. Each transport turns one topic's stream
// into calls of the same handlers, so the tail (tail.js) neither knows nor
// cares how records travel. Today there is one, the WebSocket protocol of
// docs/websocket.md; Server-Sent Events (GET /v1/topics/{topic}/events) can
// be added here as a second entry, with `filtersKeys: true` since it takes
// `key=` on the server.
//
// A transport is { id, label, filtersKeys, open(options, handlers) }:
//   options:  { topic, from, format, key }   from: 'latest' | 'earliest' | epoch ms
//   handlers: { onOpen({ via }), onRecord(record), onProblem(problem), onClose(reason) }
//   open() returns { pause(), resume(), close() }. While paused a transport
//   stops the flow at the server (credit, or closing an event stream and
//   resuming from its last event id), so the page never buffers without bound.

import { get } from './api.js';
import { websocketProtocols } from './credentials.js';

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

export const TRANSPORTS = [webSocketTransport];
