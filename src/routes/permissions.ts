import type { Request, RequestHandler } from 'express';

/** What a caller may be allowed to do beyond reading and writing records. */
export type Permission = 'admin';

/**
 * Decides whether the caller of `req` holds `permission`. It refuses by
 * throwing a GatewayError (GW_ERR_UNAUTHENTICATED or GW_ERR_FORBIDDEN);
 * returning means allowed.
 */
export type PermissionCheck = (req: Request, permission: Permission) => void | Promise<void>;

/**
 * The check while the gateway has no authentication: every caller holds
 * every permission. Authentication replaces it through
 * `AppServices.permissionCheck`; no route needs to change.
 */
export const allowEveryone: PermissionCheck = () => undefined;

/**
 * The one place a route asks for a permission. Every admin route (topic
 * creation, deletion, partitions, configs) goes through this middleware,
 * so an authorization policy has exactly one hook to fill.
 */
export function requirePermission(check: PermissionCheck, permission: Permission): RequestHandler {
  return async (req, _res, next) => {
    await check(req, permission);
    next();
  };
}
