/**
 * The durable member scenario (bench/groups.ts) as a row of `npm run bench`:
 * it runs in a child process of its own (so the gateway's memory and sockets
 * are measured alone), and its bench/results/groups.json becomes a
 * ScenarioResult. The baseline is the best the same gateway does for the
 * same subscriptions: ephemeral ones, which share the process's few broker
 * connections and keep their positions in memory. The rate columns count
 * subscriptions held (ephemeral subscribed; durable members still holding
 * their one partition after the quiet window), so the ratio is 1.00 when
 * every member held on; connections and memory per member, beside the
 * ephemeral figures, are in the details.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ScenarioResult } from './lib.js';

interface GroupsResult {
  readonly at: string;
  readonly members: number;
  readonly groups: number;
  readonly idle: { readonly rssMiB: number; readonly brokerConnections: number };
  readonly ephemeral: { readonly subscribed: number; readonly rssMiB: number; readonly kibPerSubscription: number; readonly brokerConnections: number };
  readonly durable: {
    readonly rssMiB: number;
    readonly kibPerMember: number;
    readonly brokerConnections: number;
    readonly brokerConnectionsAfterQuiet: number;
    readonly secondsToSubscribeAll: number;
    readonly secondsToSettle: number;
    readonly quietSeconds: number;
    readonly assignmentChangesWhileQuiet: number;
    readonly membersHoldingAfterQuiet: number;
    readonly errors: number;
  };
}

const RESULTS = 'bench/results/groups.json';

export function runGroupsBenchmark({ brokers, quick }: { brokers: string; quick: boolean }): ScenarioResult | undefined {
  const started = Date.now();
  try {
    execFileSync(process.execPath, ['--import', 'tsx', 'bench/groups.ts', ...(quick ? ['--quiet-seconds', '5'] : [])], { stdio: 'inherit', env: { ...process.env, KAFKA_BROKERS: brokers } });
  } catch {
    // A missed target exits 1 after writing its results; a failure writes none, and the file left is an older run's.
    process.stdout.write('  (the durable member scenario missed a target or failed; see above)\n');
  }
  const result = JSON.parse(readFileSync(RESULTS, 'utf8')) as GroupsResult;
  if (Date.parse(result.at) < started || result.ephemeral.subscribed === undefined) return undefined;
  const { members, groups, ephemeral, durable } = result;
  const met = durable.brokerConnections < 20 && durable.assignmentChangesWhileQuiet === 0 && durable.errors === 0 && durable.membersHoldingAfterQuiet === members;
  return {
    name: `ws-durable-members-${members}`,
    description: `${members} durable WebSocket members in ${groups} groups (one partition each) beside ${members} ephemeral subscriptions of the same topics, in one gateway process`,
    target: '< 20 broker connections, heartbeats on time (no assignment change in a quiet window); report memory per member beside an ephemeral subscription',
    baseline: { rate: ephemeral.subscribed },
    gateway: { rate: durable.membersHoldingAfterQuiet, errors: durable.errors },
    ratio: durable.membersHoldingAfterQuiet / ephemeral.subscribed,
    met,
    rounds: [],
    extra: {
      durableBrokerConnections: durable.brokerConnections,
      ephemeralBrokerConnections: ephemeral.brokerConnections,
      kibPerMember: durable.kibPerMember,
      kibPerEphemeralSubscription: ephemeral.kibPerSubscription,
      memberToEphemeralMemory: ephemeral.kibPerSubscription > 0 ? durable.kibPerMember / ephemeral.kibPerSubscription : Number.NaN,
      secondsToSubscribeAll: durable.secondsToSubscribeAll,
      secondsToSettle: durable.secondsToSettle,
      quietSeconds: durable.quietSeconds,
      assignmentChangesWhileQuiet: durable.assignmentChangesWhileQuiet,
    },
  };
}
