/**
 * Group membership's error mapping, with the broker's refusals built as the
 * Kafka client builds them: a commit the group refuses because a rebalance
 * passed the member by is a 409, not the gateway's failure.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Consumer, ProtocolError, ResponseError } from '@platformatic/kafka';
import { type GatewayError } from '../../../src/common/errors.js';
import { MEMBERSHIP_LOST, fromKafkaError, protocolErrorIds } from '../../../src/kafka/client/kafka-errors.js';
import { GroupMember } from '../../../src/kafka/consume/group-member.js';
import type { CommittedOffsets } from '../../../src/kafka/consume/group-offsets.js';
import { quietLogger } from '../../helpers/env.js';

/** Committed offsets are not read here: only commits are. */
const offsetsUnused: CommittedOffsets = {
  committed: () => Promise.reject(new Error('not read in these tests')),
  commit: () => Promise.reject(new Error('not used in these tests')),
};

const refusal = (id: string) => new ResponseError(8, 8, { '/topics/0/partitions/0': [new ProtocolError(id).apiCode as number, null] }, {});

test('the ids of a response error are found through its inner errors', () => {
  assert.deepEqual(protocolErrorIds(refusal('ILLEGAL_GENERATION')), ['ILLEGAL_GENERATION']);
  assert.ok(MEMBERSHIP_LOST.has('ILLEGAL_GENERATION'));
});

test('authorization failures are 403, whatever the resource', () => {
  assert.equal(fromKafkaError(refusal('GROUP_AUTHORIZATION_FAILED'), { group: 'g' }).code, 'GW_ERR_FORBIDDEN');
  assert.equal(fromKafkaError(refusal('TOPIC_AUTHORIZATION_FAILED'), { topic: 't' }).code, 'GW_ERR_FORBIDDEN');
});

for (const id of MEMBERSHIP_LOST) {
  test(`a commit refused with ${id} is a 409 GW_ERR_CONFLICT naming the Kafka error`, async (t) => {
    const commit = t.mock.method(Consumer.prototype, 'commit', async () => {
      throw refusal(id);
    });
    const member = new GroupMember({ clientId: 'gateway-test', bootstrapBrokers: ['127.0.0.1:1'] }, 'g', ['t'], { sessionTimeoutMs: 6000, heartbeatIntervalMs: 1000 }, { onJoin: () => undefined, onRebalance: () => undefined }, quietLogger(), offsetsUnused);
    t.after(() => member.leave());
    await assert.rejects(member.commit([{ topic: 't', partition: 0, next: 1n }]), (e: GatewayError) => {
      assert.equal(e.code, 'GW_ERR_CONFLICT');
      assert.equal(e.extensions?.kafkaError, id);
      return true;
    });
    assert.equal(commit.mock.callCount(), 1);
  });
}
