/**
 * Who may use a share group, beyond the topics it reads. Consumer groups
 * get group rules (owners, group ACLs) in src/auth; share groups are to get
 * the same rules, checked here, for every edge at once (WebSocket
 * subscriptions, HTTP takes and answers). Until src/auth offers a group
 * check, topic permissions alone decide: consume on every topic read.
 */
import type { AuthService, Principal } from '../auth/index.js';

export function authorizeShareGroup(_auth: AuthService, _principal: Principal, _group: string): void {}
