/**
 * What durable members cost: one gateway process (its own process, so its
 * memory and sockets are its alone) holds 1,000 durable WebSocket
 * subscriptions in 100 consumer groups, beside 1,000 ephemeral ones on the
 * same topics. For each kind: broker connections the process holds (from
 * `ss`, by the process's pid and the broker's port), memory per
 * subscription (RSS growth over the idle process, divided), and for the
 * durable ones whether every member kept its partitions through a quiet
 * window (a member whose heartbeats were late would be fenced and told
 * with an `assigned` frame).
 *
 *   sh scripts/node.sh --import tsx bench/groups.ts [--members 1000] [--groups 100] [--quiet-seconds 20]
 *
 * Writes bench/results/groups.json; `npm run bench` runs it and shows it
 * as the row `ws-durable-members-<members>` (bench/groups-scenario.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { startBroker, type Broker } from '../kafka/broker.js';
import { createTopic } from '../test/helpers/kafka.js';
import { runGateway } from '../test/helpers/process.js';
import { rssBytes } from './lib.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = argv.indexOf(name);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const MEMBERS = option('--members', 1000);
const GROUPS = option('--groups', 100);
const QUIET_SECONDS = option('--quiet-seconds', 20);
const TOPICS = 10;
const PER_SOCKET = 100;
const perGroup = MEMBERS / GROUPS;
if (!Number.isInteger(perGroup)) throw new Error('--members must be a multiple of --groups');

let broker: Broker | undefined;
let brokers = process.env.KAFKA_BROKERS;
if (!brokers) {
  broker = await startBroker({ heap: '1g' });
  brokers = broker.brokers;
}
const brokerPort = Number(brokers.split(':').at(-1));
const run = `b${Date.now().toString(36)}`;
const topics = Array.from({ length: TOPICS }, (_, i) => `${run}-t${i}`);
// As many partitions as a group has members: each member holds one.
for (const topic of topics) await createTopic(brokers, topic, perGroup);

const gateway = await runGateway({ KAFKA_BROKERS: brokers, WS_MAX_SUBSCRIPTIONS: String(PER_SOCKET), WS_MAX_CONNECTIONS: '100000' });
const pid = gateway.child.pid!;
const wsUrl = `${gateway.url.replace(/^http/, 'ws')}/v1/ws`;

/** TCP connections from the gateway process to the broker. */
function brokerConnections(): number {
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', `( dport = :${brokerPort} )`], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(`pid=${pid},`)).length;
}

interface Socket {
  ws: WebSocket;
  /** sub id -> the partitions it last heard it holds */
  held: Map<string, number>;
  subscribed: number;
  assignedFrames: number;
  errors: string[];
}

async function open(count: number, durable: boolean): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let base = 0; base < count; base += PER_SOCKET) {
    const ws = new WebSocket(wsUrl);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const socket: Socket = { ws, held: new Map(), subscribed: 0, assignedFrames: 0, errors: [] };
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { op: string; id?: string; sub?: string; partitions?: Array<{ partitions: number[] }>; detail?: string };
      const held = (frame.partitions ?? []).reduce((n, p) => n + p.partitions.length, 0);
      if (frame.op === 'subscribed') {
        socket.subscribed += 1;
        socket.held.set(frame.id!, held);
      } else if (frame.op === 'assigned') {
        socket.assignedFrames += 1;
        socket.held.set(frame.sub!, held);
      } else if (frame.op === 'error') socket.errors.push(frame.detail ?? '');
    });
    for (let i = base; i < Math.min(count, base + PER_SOCKET); i++) {
      const group = i % GROUPS;
      const frame = { op: 'subscribe', id: `s${i}`, topics: [topics[group % TOPICS]!], ...(durable ? { group: `${run}-g${group}` } : {}) };
      ws.send(JSON.stringify(frame));
    }
    sockets.push(socket);
  }
  return sockets;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return Date.now() - started;
}

const settle = () => new Promise((r) => setTimeout(r, 3000));
const closeAll = async (sockets: Socket[]) => {
  await Promise.all(sockets.map((s) => new Promise((resolve) => (s.ws.once('close', resolve), s.ws.close()))));
};

await settle();
const idleRss = rssBytes(pid);
const idleConnections = brokerConnections();

// Ephemeral: positions in memory over the shared fetches.
const ephemeral = await open(MEMBERS, false);
await until(() => ephemeral.reduce((n, s) => n + s.subscribed, 0) === MEMBERS, 120_000, 'ephemeral subscriptions');
await settle();
const ephemeralRss = rssBytes(pid);
const ephemeralConnections = brokerConnections();
await closeAll(ephemeral);
await settle();
const afterEphemeralRss = rssBytes(pid);

// Durable: members of their groups.
const durable = await open(MEMBERS, true);
const joinMs = await until(() => durable.reduce((n, s) => n + s.subscribed, 0) === MEMBERS, 300_000, 'durable subscriptions');
// Every group settled: each member holds exactly one partition.
const settleMs = await until(() => durable.every((s) => [...s.held.values()].every((n) => n === 1) && s.held.size === s.subscribed), 300_000, 'every member holding one partition');
await settle();
const durableRss = rssBytes(pid);
const durableConnections = brokerConnections();
const assignedBefore = durable.reduce((n, s) => n + s.assignedFrames, 0);
await new Promise((r) => setTimeout(r, QUIET_SECONDS * 1000));
const assignedDuringQuiet = durable.reduce((n, s) => n + s.assignedFrames, 0) - assignedBefore;
const holdingAfterQuiet = durable.reduce((n, s) => n + [...s.held.values()].filter((held) => held === 1).length, 0);
const quietConnections = brokerConnections();
const errors = durable.flatMap((s) => s.errors);
await closeAll(durable);

const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const kibPer = (bytes: number) => Math.round(bytes / 1024 / MEMBERS);
const result = {
  members: MEMBERS,
  groups: GROUPS,
  idle: { rssMiB: mib(idleRss), brokerConnections: idleConnections },
  ephemeral: { subscribed: ephemeral.reduce((n, s) => n + s.subscribed, 0), rssMiB: mib(ephemeralRss), kibPerSubscription: kibPer(ephemeralRss - idleRss), brokerConnections: ephemeralConnections },
  durable: {
    rssMiB: mib(durableRss),
    kibPerMember: kibPer(durableRss - afterEphemeralRss),
    brokerConnections: durableConnections,
    brokerConnectionsAfterQuiet: quietConnections,
    secondsToSubscribeAll: Math.round(joinMs / 100) / 10,
    secondsToSettle: Math.round(settleMs / 100) / 10,
    quietSeconds: QUIET_SECONDS,
    assignmentChangesWhileQuiet: assignedDuringQuiet,
    membersHoldingAfterQuiet: holdingAfterQuiet,
    errors: errors.length,
  },
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
const pass = durableConnections < 20 && assignedDuringQuiet === 0 && errors.length === 0;
process.stdout.write(
  `${MEMBERS} durable members in ${GROUPS} groups: ${durableConnections} broker connections (target < 20; ${ephemeralConnections} for ${MEMBERS} ephemeral), ` +
    `${result.durable.kibPerMember} KiB per member (${result.ephemeral.kibPerSubscription} KiB per ephemeral subscription), ` +
    `${assignedDuringQuiet} assignment changes in ${QUIET_SECONDS} s quiet (heartbeats on time: ${assignedDuringQuiet === 0 ? 'yes' : 'no'})${pass ? '' : ' — TARGET MISSED'}\n`,
);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/groups.json', `${JSON.stringify({ at: new Date().toISOString(), ...result }, null, 2)}\n`);
gateway.child.kill('SIGTERM');
await gateway.exit;
await broker?.stop();
process.exit(pass ? 0 : 1);
