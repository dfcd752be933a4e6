/**
 * Who is calling and what they may do: credentials to principal, principal
 * to ACL decision, and per-principal rate limits. HTTP routes and WebSocket
 * frames both go through this one module.
 */
export { Acl, type AclOperation, type Principal } from './acl.js';
export { ANONYMOUS, createAuthenticator, type Authenticator, type Credentials } from './authenticator.js';
export { ConnectionQuota, type QuotaLimits } from './connection-quota.js';
export { RateLimiter, type RateDecision } from './rate-limit.js';
export { AuthService, refuseInternalChange } from './service.js';
export { WS_SUBPROTOCOL, authenticateUpgrade, upgradeCredentials } from './upgrade.js';
