/**
 * Who may use a share group, beyond the topics it reads: the group rules
 * consumer groups get (src/auth, ACL rules with `groups`), applied alike to
 * share groups, for every edge at once (WebSocket subscriptions, HTTP takes,
 * answers and settings). `consume` to join and answer, `describe` to see
 * it, `admin` to change its settings.
 */
import type { AclOperation, AuthService, Principal } from '../auth/index.js';

export function authorizeShareGroup(auth: AuthService, principal: Principal, group: string, operation: AclOperation = 'consume'): void {
  auth.authorizeGroup(principal, operation, group);
}
