import { Router } from 'express';
import { GatewayError } from '../errors.js';

/**
 * The WebSocket endpoints reached with plain HTTP: the upgrade itself is
 * handled by src/ws on the server's `upgrade` event; a request without it
 * learns what to do instead of getting a bare 404.
 */
export function websocketInfoRouter(): Router {
  const router = Router();
  const upgradeRequired = (path: string) => {
    throw new GatewayError('GW_ERR_UPGRADE_REQUIRED', `${path} is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket). The protocol is in docs/websocket.md.`);
  };
  router.get('/v1/ws', (req, res) => {
    res.setHeader('Upgrade', 'websocket');
    upgradeRequired(req.path);
  });
  router.get('/v1/topics/:topic/ws', (req, res) => {
    res.setHeader('Upgrade', 'websocket');
    upgradeRequired(req.path);
  });
  return router;
}
