/**
 * Process entry: read the config, start the gateway, stop it gracefully on
 * SIGTERM or SIGINT. A bad config exits with code 2 and names each variable.
 */
import { ConfigError, loadConfig, type Config } from './config.js';
import { startGateway } from './gateway.js';
import { createLogger } from './logger.js';

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
try {
  const gateway = await startGateway(config, logger);
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'signal received');
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
} catch (error) {
  logger.fatal({ err: error }, 'gateway failed to start');
  process.stderr.write(`kafka-gateway: failed to start: ${(error as Error).message}\n`);
  process.exit(1);
}
