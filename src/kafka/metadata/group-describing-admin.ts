/**
 * The client's Admin, with DescribeGroups answers it can read whatever the
 * groups' members wrote. The client decodes every member's metadata as a
 * consumer subscription, and its assignment, inside a socket callback: a
 * member of any client whose bytes are no subscription (a Kafka Connect
 * worker's, a stranger's) made describing its group end the process.
 * Members of groups of another protocol type, and members whose bytes do
 * not decode, are answered without metadata, so the description lists them
 * with no partitions.
 */
import { Admin, decodeConsumerProtocolAssignment, decodeConsumerProtocolSubscription, kGetApi, type API, type Callback } from '@platformatic/kafka';
import { decodes, mendedApi } from '../client/index.js';

/** What is mended in a DescribeGroups answer, in every version the client speaks. */
interface DescribeGroupsAnswer {
  groups?: Array<{ protocolType: string; members: Array<{ memberMetadata: Buffer; memberAssignment: Buffer }> }>;
}

const CONSUMER_PROTOCOL_TYPE = 'consumer';

export class GroupDescribingAdmin extends Admin {
  override [kGetApi]<RequestArguments extends Array<unknown>, ResponseType>(name: string, callback: Callback<API<RequestArguments, ResponseType>>): void {
    super[kGetApi]<RequestArguments, ResponseType>(name, (error, api) => {
      // The cast names the answer DescribeGroups has; the client picks the version, whose answers share these fields.
      if (!error && api && name === 'DescribeGroups') callback(null, mendedApi(api, (answer) => mendDescribeGroups(answer as DescribeGroupsAnswer)));
      else callback(error, api);
    });
  }
}

function mendDescribeGroups(answer: DescribeGroupsAnswer): void {
  for (const group of answer.groups ?? []) {
    for (const member of group.members ?? []) {
      const readable =
        group.protocolType === CONSUMER_PROTOCOL_TYPE &&
        decodes(() => decodeConsumerProtocolSubscription(member.memberMetadata)) &&
        decodes(() => decodeConsumerProtocolAssignment(member.memberAssignment));
      // The client decodes nothing of a member whose metadata is empty.
      if (!readable) member.memberMetadata = Buffer.alloc(0);
    }
  }
}
