import type { Logger } from '../logger.js';

/** The levels a Kafka client library speaks at; each adapter maps its own onto these. */
export type LibraryLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * What the gateway logs about Kafka, and at which level, in one place and
 * independent of the client library (src/kafka/client.ts adapts kafkajs's
 * log lines; its successor's adapter calls the same methods):
 *
 * - error is for what needs a person. Nothing the client library says on
 *   its own qualifies: it reports attempts (an error response it retries,
 *   a connection that failed, a coordinator still loading), and the gateway
 *   reports outcomes, in its own lines and in each request's answer.
 * - warn: the first failure to reach the brokers, once, in words: which
 *   brokers were tried, why, and what to do. It is said again only after
 *   Kafka was reached in between.
 * - info: Kafka reached (at start, and again after it had been unreachable).
 * - debug: every line of the client library, and every further failed
 *   attempt to reach the brokers.
 */
export class KafkaLog {
  readonly #logger: Logger;
  readonly #library: Logger;
  readonly #brokers: readonly string[];
  #unreachableSaid = false;

  constructor(logger: Logger, brokers: readonly string[]) {
    this.#logger = logger;
    this.#library = logger.child({ component: 'kafka-client' });
    this.#brokers = brokers;
  }

  /** A line of the client library: debug, whatever level the library gave it, which is kept as a field. */
  library(level: LibraryLevel, message: string, fields: Record<string, unknown> = {}): void {
    this.#library.debug({ ...fields, libraryLevel: level }, message);
  }

  /** An attempt to reach the brokers failed; `reason` says why in the library's words. */
  unreachable(reason: string): void {
    if (this.#unreachableSaid) {
      this.#logger.debug({ brokers: this.#brokers, reason }, 'still cannot reach Kafka');
      return;
    }
    this.#unreachableSaid = true;
    const brokers = this.#brokers.join(', ');
    this.#logger.warn(
      { brokers: this.#brokers, reason },
      `Cannot reach Kafka at ${brokers} (${reason}). The gateway keeps trying in the background and /readyz answers 503 until a broker answers. ` +
        'If Kafka runs elsewhere, set KAFKA_BROKERS to its brokers as host:port, comma-separated; for a local broker with the gateway, run `npm run dev`.',
    );
  }

  /** The brokers answered: said at start, and after they had been unreachable. */
  reached(atStart = false): void {
    if (!atStart && !this.#unreachableSaid) return;
    this.#unreachableSaid = false;
    this.#logger.info({ brokers: this.#brokers }, atStart ? 'connected to Kafka' : 'Kafka is reachable again');
  }
}

/** The innermost reason of an error, as a short sentence for a log line. */
export function reasonOf(error: unknown): string {
  let current: unknown = error;
  // kafkajs chains causes as `originalError`; standard errors as `cause`.
  for (let depth = 0; depth < 10; depth++) {
    const next = (current as { originalError?: unknown; cause?: unknown } | undefined)?.originalError ?? (current as { cause?: unknown } | undefined)?.cause;
    if (!(next instanceof Error)) break;
    current = next;
  }
  return current instanceof Error ? current.message : String(current);
}
