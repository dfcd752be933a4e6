import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { WireDecoder } from '../schema/index.js';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ConnectionQuota, WS_SUBPROTOCOL, authenticateUpgrade, type AuthService } from '../auth/index.js';
import type { Config } from '../config.js';
import { GROUP_NAME_RULE, GatewayError, PROBLEM_CONTENT_TYPE, checkTopicName, isValidGroupName, toGatewayError, toProblem, type Logger } from '../common/index.js';
import type { ShareGroups, SubscriptionEngine } from '../kafka/index.js';
import { CLOSE, Connection, type ProduceRecords, type SingleTopic } from './connection.js';
import { MAX_KEYS, keyFilter } from './frames.js';
import { SendTurns } from './send-turns.js';
import { startFromQuery } from '../edge-rules/index.js';

export interface WebSocketGatewayDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly auth: AuthService;
  readonly subscriptions: SubscriptionEngine;
  readonly requireTopic: (topic: string) => Promise<void>;
  readonly produce?: ProduceRecords;
  /** Decodes records in the schema registry wire format. */
  readonly wire?: WireDecoder;
  readonly shareGroups?: ShareGroups;
}

export interface WebSocketStats {
  readonly connections: number;
  readonly subscriptions: number;
  /** Unsent bytes held now across connections: socket buffers plus queued records. */
  readonly bufferedBytes: number;
}

const MULTIPLEXED = '/v1/ws';
const SINGLE_TOPIC = /^\/v1\/topics\/([^/]+)\/ws$/;

/**
 * The WebSocket endpoints: `/v1/ws` (multiplexed JSON protocol) and
 * `/v1/topics/{topic}/ws` (every frame a record). Everything that can be
 * refused is refused on the HTTP upgrade, before any frame: unknown path,
 * origin, credentials, connection limit, and for the single-topic endpoint
 * the topic itself.
 */
export class WebSocketGateway {
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<Connection>();
  /** The connections' turns at writing records, shared by all of them. */
  readonly #turns = new SendTurns();
  readonly #quota: ConnectionQuota;
  readonly #heartbeat: NodeJS.Timeout;
  #closing = false;

  constructor(private readonly deps: WebSocketGatewayDeps) {
    const { maxConnectionsPerAddress: perAddress, maxConnectionsPerPrincipal: perPrincipal } = deps.config.ws;
    this.#quota = new ConnectionQuota('WebSocket connections', { perAddress, perPrincipal }, {
      perAddress: 'WS_MAX_CONNECTIONS_PER_ADDRESS',
      perPrincipal: 'WS_MAX_CONNECTIONS_PER_PRINCIPAL',
    });
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: deps.config.ws.maxFrameBytes,
      // Browsers send credentials as a `bearer.<token>` subprotocol; the answer names ours, never the token.
      handleProtocols: (protocols) => (protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false),
      perMessageDeflate: false,
    });
    this.#heartbeat = setInterval(() => {
      for (const connection of this.#connections) if (!connection.heartbeat()) connection.terminate();
    }, deps.config.ws.pingIntervalMs);
  }

  stats(): WebSocketStats {
    let subscriptions = 0;
    let bufferedBytes = 0;
    for (const c of this.#connections) {
      subscriptions += c.subscriptionCount;
      bufferedBytes += c.socket.bufferedAmount + c.queuedBytes;
    }
    return { connections: this.#connections.size, subscriptions, bufferedBytes };
  }

  /** The most unsent bytes any open connection has held. */
  peakBufferedBytes(): number {
    return Math.max(0, ...[...this.#connections].map((c) => c.peakBufferedBytes));
  }

  /** For the HTTP server's `upgrade` event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (error) => this.deps.logger.debug({ err: error }, 'upgrade socket error'));
    void this.#upgrade(req, socket, head).catch((error: unknown) => refuse(socket, toGatewayError(error), this.deps.auth));
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const singleMatch = SINGLE_TOPIC.exec(url.pathname);
    if (url.pathname !== MULTIPLEXED && !singleMatch) throw new GatewayError('GW_ERR_NOT_FOUND', `No WebSocket endpoint at ${url.pathname}.`);
    if (this.#closing) throw new GatewayError('GW_ERR_SHUTTING_DOWN', 'The gateway is shutting down.');
    if (this.#connections.size >= this.deps.config.ws.maxConnections) {
      throw new GatewayError('GW_ERR_OVERLOADED', `This gateway holds its maximum of ${this.deps.config.ws.maxConnections} WebSocket connections.`);
    }
    const principal = await authenticateUpgrade(req, this.deps.auth);
    // Held until the TCP connection ends, however the upgrade or the session ends.
    const release = this.#quota.take(req.socket.remoteAddress, principal);
    if (socket.destroyed) {
      // The client left while it was authenticated: nothing to upgrade, and no close event to come.
      release();
      return;
    }
    socket.once('close', release);
    let single: SingleTopic | undefined;
    if (singleMatch) {
      single = singleTopicOptions(decodeURIComponent(singleMatch[1]!), url.searchParams);
      this.deps.auth.authorize(principal, 'consume', single.topic);
      if (single.group !== undefined) this.deps.auth.authorizeGroup(principal, 'consume', single.group);
      await this.deps.requireTopic(single.topic);
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new Connection(
        ws,
        socket,
        principal,
        {
          config: this.deps.config.ws,
          logger: this.deps.logger,
          auth: this.deps.auth,
          subscriptions: this.deps.subscriptions,
          wire: this.deps.wire,
          requireTopic: this.deps.requireTopic,
          produce: this.deps.produce,
          shareGroups: this.deps.shareGroups,
          onClosed: (c) => this.#connections.delete(c),
          turns: this.#turns,
        },
        single,
      );
      this.#connections.add(connection);
    });
  }

  /** Shutdown: every client gets 1001, auto-mode offsets are committed, groups are left. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#heartbeat);
    await Promise.allSettled([...this.#connections].map((c) => c.close(CLOSE.goingAway, 'gateway shutting down')));
    this.#wss.close();
  }
}

function singleTopicOptions(topic: string, query: URLSearchParams): SingleTopic {
  const group = query.get('group') ?? undefined;
  const format = query.get('format') ?? 'text';
  const headers = query.get('headers') ?? 'object';
  const keys = query.getAll('key');
  const keyFormat = query.get('keyFormat') ?? 'text';
  if (keyFormat !== 'text' && keyFormat !== 'base64') throw new GatewayError('GW_ERR_VALIDATION', 'Query parameter keyFormat must be text or base64.');
  if (keys.length > MAX_KEYS) throw new GatewayError('GW_ERR_VALIDATION', `At most ${MAX_KEYS} key parameters.`);
  keyFilter(keys, keyFormat, '/key');
  checkTopicName(topic);
  if (group !== undefined && !isValidGroupName(group)) throw new GatewayError('GW_ERR_VALIDATION', `Query parameter group must be ${GROUP_NAME_RULE}.`);
  if (format !== 'text' && format !== 'base64') throw new GatewayError('GW_ERR_VALIDATION', 'Query parameter format must be text or base64.');
  if (headers !== 'object' && headers !== 'list') throw new GatewayError('GW_ERR_VALIDATION', 'Query parameter headers must be object or list.');
  const from = startFromQuery(query.get('from') ?? undefined);
  return { topic, group, from, form: { fallback: format, headers }, ...(keys.length > 0 ? { keys, keyFormat } : {}) };
}

/** Answers a refused upgrade on the raw socket, as problem+json, before any WebSocket frame. */
function refuse(socket: Duplex, error: GatewayError, auth: AuthService): void {
  if (!socket.writable) return;
  const body = JSON.stringify(toProblem(error));
  const headers = [
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}`,
    `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...(error.status === 401 ? [`WWW-Authenticate: ${auth.authenticator.challenge}`] : []),
    ...(error.retryAfterSeconds !== undefined ? [`Retry-After: ${error.retryAfterSeconds}`] : []),
  ];
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}
