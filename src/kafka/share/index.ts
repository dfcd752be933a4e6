/**
 * Queues: Kafka share groups (KIP-932). The share requests spoken on the
 * client's protocol layer (share-wire.ts), one member of a group with its
 * share sessions, locks and answers (share-member.ts), and the groups'
 * settings, listing and description (share-groups.ts).
 */
export { ShareGroups, SHARE_GROUP_CONFIGS, type DeadLetter, type DeadLetterMode, type DeadLetterWriter, type ShareGroupDetail, type ShareGroupSettings, type ShareGroupSummary } from './share-groups.js';
export { ShareMember, type ShareMemberEvents, type ShareRecord, type ShareTopicPartitions } from './share-member.js';
export type { AckTypeName as ShareOutcome } from './share-wire.js';
export { SharePulls, type AnswerResult, type TakeRequest, type TakenRecord } from './share-pulls.js';
