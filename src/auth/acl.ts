/**
 * Topic and consumer group ACLs: each rule grants operations on topic
 * patterns, and on group patterns, to principals. Whatever no rule allows
 * is denied. Patterns are an exact name, a prefix ending in `*`
 * (`orders.*`), or `*` for every name. A rule that names no `groups` grants
 * its operations on the groups its `topics` patterns match, so a principal
 * owning `a-*` owns the groups `a-*` and no other's.
 *
 * On a group, `consume` is joining it (WebSocket, event stream, Confluent
 * v2 instance), committing and seeking in it; `describe` is seeing it in
 * listings and its detail; `admin` is deleting it.
 *
 * Principal names and roles live in separate namespaces: a rule entry
 * `role:<role>` matches only a role the credential carries, and
 * `user:<name>` (or a bare name) only the principal's name. A token whose
 * subject is `role:ops` is therefore the user `role:ops`, never the role.
 */

import type { AclOperation, AclRule } from '../config.js';

export type { AclOperation, AclRule };

export interface Principal {
  readonly name: string;
  readonly roles: readonly string[];
  /** When the credential stops being valid (JWT `exp`), in epoch ms. */
  readonly expiresAt?: number;
  /** The anonymous principal of auth mode `none`, which every check allows. */
  readonly anonymous?: boolean;
}

function nameMatches(pattern: string, topic: string): boolean {
  if (pattern === '*') return true;
  return pattern.endsWith('*') ? topic.startsWith(pattern.slice(0, -1)) : pattern === topic;
}

const ROLE = 'role:';
const USER = 'user:';

function entryMatches(entry: string, principal: Principal): boolean {
  if (entry === '*') return true;
  if (entry.startsWith(ROLE)) return principal.roles.includes(entry.slice(ROLE.length));
  if (entry.startsWith(USER)) return principal.name === entry.slice(USER.length);
  return principal.name === entry;
}

function appliesTo(rule: AclRule, principal: Principal): boolean {
  return rule.principals.some((entry) => entryMatches(entry, principal));
}

export class Acl {
  constructor(readonly rules: readonly AclRule[]) {}

  /**
   * Whether the principal may do `operation` on `topic`. Without a topic
   * (cluster-wide reads such as listing topics) it asks whether the
   * principal may do it on some topic; listings then show only the topics
   * it may describe.
   */
  /** Whether a rule grants `operation` on every topic (`*`): what cluster-wide things with no topic need. */
  allowsEveryTopic(principal: Principal, operation: AclOperation): boolean {
    if (principal.anonymous) return true;
    return this.rules.some((rule) => rule.operations.includes(operation) && appliesTo(rule, principal) && rule.topics.includes('*'));
  }

  /** Whether the principal may do `operation` on the consumer group `group`. */
  allowsGroup(principal: Principal, operation: AclOperation, group: string): boolean {
    if (principal.anonymous) return true;
    return this.rules.some(
      (rule) => rule.operations.includes(operation) && appliesTo(rule, principal) && (rule.groups ?? rule.topics).some((pattern) => nameMatches(pattern, group)),
    );
  }

  allows(principal: Principal, operation: AclOperation, topic?: string): boolean {
    if (principal.anonymous) return true;
    return this.rules.some(
      (rule) =>
        rule.operations.includes(operation) &&
        appliesTo(rule, principal) &&
        (topic === undefined ? rule.topics.length > 0 : rule.topics.some((pattern) => nameMatches(pattern, topic))),
    );
  }
}
