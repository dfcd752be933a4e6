import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { answerClientError, countAnswers, isWebSocketUpgrade, serveAsHttp } from './http/index.js';
import { withDeadline, type Logger } from './common/index.js';
import type { Config } from './config.js';
import { buildServices, type GatewayServices } from './services.js';

export interface RunningGateway {
  readonly server: Server;
  /** The base URL it listens on, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** The running instance's services, for tests and tooling (connection counts, metrics). */
  readonly services: GatewayServices;
  /** Graceful stop: no new connections, in-flight requests finish within the bound, Kafka disconnects. */
  stop(): Promise<void>;
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address === '::ffff:127.0.0.1';
}

/** Wires Kafka, the app and an HTTP server from the config, and starts listening. */
export async function startGateway(config: Config, logger: Logger): Promise<RunningGateway> {
  const services = buildServices(config, logger);
  await services.start();
  const gateway = createApp(services);
  // A missing Host is refused by the gateway's own check (as problem+json), not by Node's bare 400.
  const server = createServer({ requireHostHeader: false }, gateway.app);
  // Node sends every upgrade offer here, `Upgrade: h2c` from Java's HttpClient and curl --http2 too: only a
  // WebSocket upgrade is one; any other request is served as the HTTP/1.1 request it also is.
  countAnswers(server);
  server.on('upgrade', (req, socket, head) => {
    if (isWebSocketUpgrade(req)) services.webSockets.handleUpgrade(req, socket, head);
    else serveAsHttp(server, req, socket, head);
  });
  server.on('clientError', answerClientError);
  // Node's defaults would cut long NDJSON uploads and keep idle sockets after shutdown begins.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 5000;

  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(config.port, config.host, () => {
      server.off('error', rej);
      res();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  logger.info({ url }, 'gateway listening');
  for (const warning of services.auth.startWarnings) logger.warn(`WARNING: ${warning}`);
  if (config.auth.mode === 'none' && !isLoopback(address)) {
    const warning = `WARNING: authentication is off (AUTH_MODE=none) and the gateway listens on ${address}: anyone who can reach ${url} can produce to and read every topic. Set AUTH_MODE for anything but local development.`;
    logger.warn(warning);
    process.stderr.write(`\n${'!'.repeat(78)}\n${warning}\n${'!'.repeat(78)}\n\n`);
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      logger.info({ timeoutMs: config.shutdownTimeoutMs }, 'shutting down');
      gateway.beginShutdown();
      // Streaming clients are told to go elsewhere first, and Confluent reads waiting for records answer with
      // what they have: their connections would hold the server open until the shutdown timeout.
      await Promise.all([services.webSockets.close(), services.events.close(), services.consumerInstances.close()]);
      const closed = new Promise<void>((res) => server.close(() => res()));
      server.closeIdleConnections();
      if ((await withDeadline(closed, config.shutdownTimeoutMs, () => 'timeout' as const)) === 'timeout') {
        logger.warn('in-flight requests did not finish in time; closing their connections');
        server.closeAllConnections();
        await closed;
      }
      await services.close();
      logger.info('stopped');
    })();
    return stopping;
  };

  return { server, url, stop, services };
}
