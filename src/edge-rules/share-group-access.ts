/**
 * Who may use a share group, beyond the topics it reads: the group rules
 * consumer groups get (src/auth), checked here for every edge at once
 * (WebSocket subscriptions, HTTP takes and answers).
 */
import type { AuthService, Principal } from '../auth/index.js';

export function authorizeShareGroup(auth: AuthService, principal: Principal, group: string): void {
  auth.authorizeGroup(principal, 'consume', group);
}
