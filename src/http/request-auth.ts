import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ANONYMOUS, type AclOperation, type AuthService, type Credentials, type Principal } from '../auth/index.js';
import { GatewayError } from '../common/index.js';
import { operationOf } from './contract.js';

const PERMISSIONS: readonly string[] = ['produce', 'consume', 'describe', 'admin'];

/** The principal of this request, set by authenticate(). */
export function principalOf(res: Response): Principal {
  return (res.locals.principal as Principal | undefined) ?? ANONYMOUS;
}

export function credentialsFrom(headers: Request['headers'], apiKeyHeader: string): Credentials {
  const authorization = headers.authorization;
  const bearer = authorization && /^bearer\s+/i.test(authorization) ? authorization.replace(/^bearer\s+/i, '').trim() : undefined;
  const apiKey = headers[apiKeyHeader];
  return { bearer: bearer || undefined, apiKey: typeof apiKey === 'string' && apiKey !== '' ? apiKey : undefined };
}

/**
 * The request's credentials: its headers, or for an operation that lists
 * the `queryToken` scheme (event streams: EventSource cannot set headers)
 * an `access_token` query parameter, as on WebSocket upgrades, unless
 * AUTH_ALLOW_QUERY_TOKEN=false.
 */
function requestCredentials(req: Request, auth: AuthService, queryToken: boolean): Credentials {
  const fromHeaders = credentialsFrom(req.headers, auth.config.apiKeyHeader);
  if (fromHeaders.bearer !== undefined || fromHeaders.apiKey !== undefined || !queryToken || !auth.config.allowQueryToken) return fromHeaders;
  const token = new URL(req.originalUrl, 'http://gateway').searchParams.get('access_token');
  return token ? { bearer: token } : fromHeaders;
}

/**
 * Authentication, rate limiting and topic authorization for every
 * operation, driven by the contract: each operation in openapi.yaml names
 * its permission (`x-permission`), the path parameter holding its topic
 * (`x-topic-parameter`) and the one holding its consumer group
 * (`x-group-parameter`, checked against the ACL's group rules). An operation without a permission is refused while
 * auth is on, so a new route cannot be left open by accident.
 */
export function authorizeOperation(auth: AuthService): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const matched = operationOf(res);
    const permission = matched?.operation.permission;
    if (permission === 'public') {
      next();
      return;
    }
    const topicParameter = matched?.operation.topicParameter;
    const topic = topicParameter ? matched?.pathParams[topicParameter] : undefined;
    if (!auth.enabled) {
      // Everything is allowed, except what nobody may do (changing internal topics).
      if (permission !== undefined && PERMISSIONS.includes(permission)) auth.authorize(ANONYMOUS, permission as AclOperation, topic);
      next();
      return;
    }
    let principal: Principal;
    try {
      principal = await auth.authenticateFrom(requestCredentials(req, auth, matched?.operation.queryToken === true), req.socket.remoteAddress);
    } catch (error) {
      if (error instanceof GatewayError && error.status === 401) res.setHeader('WWW-Authenticate', auth.authenticator.challenge);
      throw error;
    }
    res.locals.principal = principal;
    auth.checkRate(principal);
    if (permission === undefined || !PERMISSIONS.includes(permission)) {
      throw new GatewayError('GW_ERR_FORBIDDEN', 'This operation has no permission rule; it is refused while authentication is on.');
    }
    auth.authorize(principal, permission as AclOperation, topic);
    const groupParameter = matched?.operation.groupParameter;
    const group = groupParameter ? matched?.pathParams[groupParameter] : undefined;
    if (group !== undefined) auth.authorizeGroup(principal, permission as AclOperation, group);
    next();
  };
}

/** CORS for the configured origins; preflights are answered here, before routing. */
export function cors(auth: AuthService): RequestHandler {
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin === undefined) {
      next();
      return;
    }
    res.vary('Origin');
    if (!auth.isOriginAllowed(origin, req.headers.host)) {
      if (req.method === 'OPTIONS') throw new GatewayError('GW_ERR_FORBIDDEN', `Origin ${origin} is not allowed.`);
      // A simple cross-origin request without CORS headers: the browser withholds the answer.
      next();
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After, WWW-Authenticate');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE');
      res.setHeader('Access-Control-Allow-Headers', `Authorization, Content-Type, X-Request-Id, ${auth.config.apiKeyHeader}`);
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}

/** Headers that make the gateway's pages and answers safe to serve to browsers. */
export const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader(
    'Content-Security-Policy',
    // Swagger UI sets inline styles; scripts are only the gateway's own files.
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  );
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  next();
};
