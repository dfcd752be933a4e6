import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config.js';
import type { GatewayError } from './errors.js';

export type { Logger };

/**
 * Structured JSON logs on stdout. Credentials never reach a log line: the
 * request logger writes no headers, and these paths are redacted wherever a
 * caller logs an object that carries them.
 *
 * Levels: error is for what needs a person (a bug, a misconfiguration);
 * warn for trouble the gateway rides out (Kafka away, overload), said in
 * one line without a stack; debug for attempts and retries. What the Kafka
 * client library says follows src/kafka/client/log-policy.ts.
 *
 * Without a destination, lines go to stdout through a buffer written in the
 * background: under load the lines of many requests leave in one write,
 * where a write per line (one per request) cost a system call each, and a
 * stdout pipe read slowly no longer stalls every request. A write waits for
 * 4 KiB of lines or 100 ms, whichever comes first: a write as soon as the
 * one before finished still carried one request's line in most writes
 * (about 55 µs of CPU each). The buffer is written out when the process
 * exits, and holds at most 16 MiB: past it, while stdout takes nothing,
 * lines are dropped rather than held (said on stderr).
 */
export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'kafka-gateway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['password', '*.password', 'sasl', '*.sasl', 'authorization', '*.authorization', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination ?? bufferedStdout(),
  );
}

function bufferedStdout(): ReturnType<typeof pino.destination> {
  const stdout = pino.destination({ dest: 1, sync: false, maxLength: LOG_BUFFER_MAX_BYTES, minLength: LOG_WRITE_MIN_BYTES, periodicFlush: LOG_FLUSH_MS });
  // pino takes a broken pipe in its stride but hands any other failure of stdout (EIO, a closed descriptor) on as an
  // 'error' event, which with nobody listening would end the process: logging stops, the gateway goes on serving.
  stdout.on('error', () => undefined);
  // Lines dropped for a full buffer are said once a burst, on stderr, so a log with gaps is known to have them.
  let dropping = false;
  stdout.on('drop', () => {
    if (dropping) return;
    dropping = true;
    process.stderr.write(`log lines dropped: stdout took nothing while ${LOG_BUFFER_MAX_BYTES} bytes of them waited\n`);
    setTimeout(() => (dropping = false), 10_000).unref();
  });
  return stdout;
}

// About a minute of request lines at a thousand requests a second.
const LOG_BUFFER_MAX_BYTES = 16 * 1024 * 1024;
// About 16 request lines per write; a quiet gateway's lines still leave within LOG_FLUSH_MS.
const LOG_WRITE_MIN_BYTES = 4096;
const LOG_FLUSH_MS = 100;

/**
 * Logs a failure a client was answered with, if it is the server's: a 5xx
 * that retrying can mend (Kafka unavailable, overloaded, shutting down) is
 * a warning in one line, with its reason but no stack; any other 5xx is a
 * bug or a misconfiguration, an error with the stack of its cause. The
 * client's own mistakes (4xx) are in the request's log line already.
 */
export function logAnsweredFailure(logger: Logger, error: GatewayError, fields: Record<string, unknown> = {}): void {
  if (error.status < 500) return;
  if (error.retriable) {
    const cause = error.cause instanceof Error ? error.cause.message : undefined;
    logger.warn({ ...fields, code: error.code, ...(cause && cause !== error.detail ? { reason: cause } : {}) }, error.detail);
    return;
  }
  logger.error({ ...fields, err: error.cause ?? error }, error.detail);
}
