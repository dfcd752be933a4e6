/**
 * Queues over plain HTTP: share groups listed, described and configured,
 * and the pull pair for stateless workers - take up to N records (a long
 * poll), then answer each by its receipt. An answer must reach the gateway
 * instance that took the record (its id is in the receipt and in the
 * X-Gateway-Instance header); elsewhere it is refused with 409 and the
 * record comes back once its lock expires (docs/queues.md).
 */
import type { AuthService } from '../../auth/index.js';
import { GatewayError, checkTopicName } from '../../common/index.js';
import { authorizeShareGroup } from '../../edge-rules/index.js';
import type { ShareGroups, ShareGroupSettings, SharePulls } from '../../kafka/index.js';
import { encodedBody } from '../../records/index.js';
import type { Handlers } from '../contract.js';
import { principalOf } from '../request-auth.js';

export interface QueueRouteDeps {
  readonly shareGroups: ShareGroups;
  readonly pulls: SharePulls;
  readonly auth: AuthService;
  readonly requireTopic: (topic: string) => Promise<void>;
}

const COMMA = Buffer.from(',');

export function queueHandlers({ shareGroups, pulls, auth, requireTopic }: QueueRouteDeps): Pick<
  Handlers,
  'listShareGroups' | 'getShareGroup' | 'updateShareGroup' | 'takeShareRecords' | 'answerShareRecords'
> {
  return {
    listShareGroups: async ({ res }) => {
      const groups = await shareGroups.list();
      if (!auth.enabled) {
        res.json({ groups });
        return;
      }
      // A share group is seen by whoever may describe it, by the same group rules as consumer groups.
      const principal = principalOf(res);
      res.json({ groups: groups.filter((g) => auth.mayDescribeGroup(principal, g.groupId)) });
    },
    getShareGroup: async ({ path, res }) => {
      if (auth.enabled && !auth.mayDescribeGroup(principalOf(res), path.group)) {
        throw new GatewayError('GW_ERR_GROUP_NOT_FOUND', `Share group ${JSON.stringify(path.group)} does not exist (or is not a share group).`);
      }
      res.json(await shareGroups.describe(path.group));
    },
    updateShareGroup: async ({ path, body, res }) => {
      auth.authorizeGroup(principalOf(res), 'admin', path.group);
      const changes: ShareGroupSettings = { ...body };
      if (typeof changes.deadLetterTopic === 'string') {
        checkTopicName(changes.deadLetterTopic);
        await requireTopic(changes.deadLetterTopic);
      }
      await shareGroups.configure(path.group, changes);
      res.json({ groupId: path.group, settings: await shareGroups.settings(path.group), deadLetters: await shareGroups.deadLetterMode() });
    },
    takeShareRecords: async ({ path, body, res }) => {
      const principal = principalOf(res);
      const topics = [...new Set(body.topics)];
      for (const topic of topics) auth.authorize(principal, 'consume', checkTopicName(topic));
      authorizeShareGroup(auth, principal, path.group);
      if (body.deadLetterTopic !== undefined) auth.authorize(principal, 'produce', checkTopicName(body.deadLetterTopic));
      for (const topic of topics) await requireTopic(topic);
      if (body.deadLetterTopic !== undefined) await requireTopic(body.deadLetterTopic);
      // A worker that hangs up during the long poll takes nothing: what would have been its records stays with the group.
      const gone = new AbortController();
      res.once('close', () => {
        if (!res.writableFinished) gone.abort();
      });
      const { records, lockDurationMs } = await pulls.take({
        group: path.group,
        topics,
        max: body.max ?? 10,
        waitMs: body.waitMs ?? 0,
        deadLetterTopic: body.deadLetterTopic,
        owner: principal.name,
        signal: gone.signal,
      });
      const form = { fallback: body.format ?? 'text', headers: 'object' } as const;
      // Each record's JSON as the streams encode it, with the fields of a queue record in front.
      const parts: Buffer[] = [Buffer.from(`{"group":${JSON.stringify(path.group)},"instance":${JSON.stringify(pulls.instance)},"lockDurationMs":${lockDurationMs},"records":[`)];
      records.forEach(({ record, receipt }, i) => {
        if (i > 0) parts.push(COMMA);
        parts.push(Buffer.from(`{"receipt":${JSON.stringify(receipt)},"deliveryCount":${record.deliveryCount},"lockExpiresAt":${record.lockExpiresAt},`), encodedBody(record, form).subarray(1));
      });
      parts.push(Buffer.from(']}'));
      res.setHeader('X-Gateway-Instance', pulls.instance);
      res.type('application/json').send(Buffer.concat(parts));
    },
    answerShareRecords: async ({ path, body, res }) => {
      const principal = principalOf(res);
      authorizeShareGroup(auth, principal, path.group);
      const results = await pulls.answer(path.group, principal.name, body.answers);
      res.setHeader('X-Gateway-Instance', pulls.instance);
      res.json({ results, failed: results.filter((r) => !r.ok).length });
    },
  };
}
