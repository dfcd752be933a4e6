/**
 * Process entry: read the config, start the gateway, stop it gracefully on
 * SIGTERM or SIGINT. A bad config exits with code 2 and names each variable.
 */
import { ConfigError, loadConfig, type Config } from './config.js';
import { startGateway } from './gateway.js';
import { createLogger } from './common/index.js';

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`kafka-gateway: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}

const logger = createLogger(config.logLevel);
// A failure nothing caught leaves state nobody can vouch for (a subscription
// half stopped, a producer mid-batch): say what it was and exit, so that a
// supervisor starts a clean process, rather than serve on in that state.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (error: unknown) => {
    logger.fatal({ err: error, event }, 'uncaught failure; exiting');
    process.stderr.write(`kafka-gateway: ${event}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(70);
  });
}
const started = startGateway(config, logger);
// The handlers go in before the port opens: a signal that comes as soon as
// the gateway says it is listening must still stop it gracefully, not kill it.
const onSignal = (signal: NodeJS.Signals) => {
  logger.info({ signal }, 'signal received');
  started
    .then((gateway) => gateway.stop())
    .then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
};
process.once('SIGTERM', onSignal);
process.once('SIGINT', onSignal);
try {
  await started;
} catch (error) {
  logger.fatal({ err: error }, 'gateway failed to start');
  process.stderr.write(`kafka-gateway: failed to start: ${(error as Error).message}\n`);
  process.exit(1);
}
