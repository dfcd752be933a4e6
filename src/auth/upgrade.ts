import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../common/index.js';
import type { Principal } from './acl.js';
import type { Credentials } from './authenticator.js';
import type { AuthService } from './service.js';

/** The subprotocol a browser offers beside its credential; the gateway answers with it, never echoing the credential. */
export const WS_SUBPROTOCOL = 'kafka-gateway';
const BEARER_PROTOCOL = 'bearer.';
/**
 * A credential encoded as unpadded base64url. A subprotocol may hold only
 * token characters, so `/` and `=` of a base64 API key (or any other
 * character) cannot travel as `bearer.<key>`; every credential can travel
 * in this form.
 */
const BASE64URL_PROTOCOL = 'base64url.';
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function fromSubprotocols(header: string | undefined): string | undefined {
  const offered = (header ?? '').split(',').map((p) => p.trim());
  for (const protocol of offered) {
    if (protocol.startsWith(BEARER_PROTOCOL) && protocol.length > BEARER_PROTOCOL.length) return protocol.slice(BEARER_PROTOCOL.length);
    if (protocol.startsWith(BASE64URL_PROTOCOL)) {
      const encoded = protocol.slice(BASE64URL_PROTOCOL.length);
      // An undecodable value is no credential at all, so the upgrade gets the usual 401.
      if (BASE64URL.test(encoded)) return Buffer.from(encoded, 'base64url').toString('utf8');
    }
  }
  return undefined;
}

/**
 * Credentials of a WebSocket upgrade, from the three places a client can
 * put them: the Authorization or API-key header (non-browser clients), a
 * `base64url.<credential>` or `bearer.<token>` entry in
 * Sec-WebSocket-Protocol (browsers cannot set headers), or an
 * `access_token` query parameter (the weakest: URLs end up in logs and
 * histories; it can be turned off).
 */
export function upgradeCredentials(req: IncomingMessage, auth: AuthService): Credentials {
  const authorization = req.headers.authorization;
  if (authorization && /^bearer\s+/i.test(authorization)) return { bearer: authorization.replace(/^bearer\s+/i, '').trim() };
  const apiKey = req.headers[auth.config.apiKeyHeader];
  if (typeof apiKey === 'string' && apiKey !== '') return { apiKey };
  const fromProtocol = fromSubprotocols(req.headers['sec-websocket-protocol']);
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
  auth.checkHost(req.headers.host, req.httpVersion);
  const origin = req.headers.origin;
  if (!auth.isOriginAllowed(origin, req.headers.host)) {
    throw new GatewayError('GW_ERR_FORBIDDEN', `Origin ${origin ?? ''} is not allowed to open WebSockets here.`);
  }
  return auth.authenticateFrom(upgradeCredentials(req, auth), req.socket.remoteAddress);
}
