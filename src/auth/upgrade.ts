import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import type { Principal } from './acl.js';
import type { Credentials } from './authenticator.js';
import type { AuthService } from './service.js';

/** The subprotocol a browser offers beside `bearer.<token>`; the gateway answers with it, never echoing the token. */
export const WS_SUBPROTOCOL = 'kafka-gateway';
const BEARER_PROTOCOL = 'bearer.';

/**
 * Credentials of a WebSocket upgrade, from the three places a client can
 * put them: the Authorization or API-key header (non-browser clients), a
 * `bearer.<token>` entry in Sec-WebSocket-Protocol (browsers cannot set
 * headers), or an `access_token` query parameter (the weakest: URLs end up
 * in logs and histories; it can be turned off).
 */
export function upgradeCredentials(req: IncomingMessage, auth: AuthService): Credentials {
  const authorization = req.headers.authorization;
  if (authorization && /^bearer\s+/i.test(authorization)) return { bearer: authorization.replace(/^bearer\s+/i, '').trim() };
  const apiKey = req.headers[auth.config.apiKeyHeader];
  if (typeof apiKey === 'string' && apiKey !== '') return { apiKey };
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const fromProtocol = offered.find((p) => p.startsWith(BEARER_PROTOCOL))?.slice(BEARER_PROTOCOL.length);
  if (fromProtocol) return { bearer: fromProtocol };
  if (auth.config.allowQueryToken) {
    const token = new URL(req.url ?? '/', 'http://gateway').searchParams.get('access_token');
    if (token) return { bearer: token };
  }
  return {};
}

/**
 * Everything checked before a WebSocket upgrade is accepted: the Host
 * header, the origin, then the credentials. Throws a GatewayError (421 for
 * a host, 403 for an origin, 401 or 429 for credentials) that the caller
 * answers on the raw socket before any frame.
 */
export async function authenticateUpgrade(req: IncomingMessage, auth: AuthService): Promise<Principal> {
  auth.checkHost(req.headers.host);
  const origin = req.headers.origin;
  if (!auth.isOriginAllowed(origin, req.headers.host)) {
    throw new GatewayError('GW_ERR_FORBIDDEN', `Origin ${origin ?? ''} is not allowed to open WebSockets here.`);
  }
  return auth.authenticateFrom(upgradeCredentials(req, auth), req.socket.remoteAddress);
}
