import type { Request, Response } from 'express';
import { GatewayError } from '../../common/index.js';
import type { Handlers } from '../contract.js';

function upgradeRequired({ req, res }: { req: Request; res: Response }): never {
  res.setHeader('Upgrade', 'websocket');
  throw new GatewayError('GW_ERR_UPGRADE_REQUIRED', `${req.path} is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket). The protocol is in docs/websocket.md.`);
}

/**
 * The WebSocket endpoints reached with plain HTTP: the upgrade itself is
 * handled by src/ws on the server's `upgrade` event; a request without it
 * learns what to do instead of getting a bare 404.
 */
export function websocketInfoHandlers(): Pick<Handlers, 'openWebSocket' | 'openTopicWebSocket'> {
  return { openWebSocket: upgradeRequired, openTopicWebSocket: upgradeRequired };
}
