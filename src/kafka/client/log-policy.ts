import type { Logger } from '../../common/index.js';

/**
 * What the gateway logs about Kafka, and at which level, in one place and
 * independent of the client library (@platformatic/kafka logs nothing of
 * its own unless DEBUG asks it to; the gateway reports what matters):
 *
 * - error is for what needs a person. A failed attempt does not qualify
 *   (an error response that is retried, a connection that failed, a
 *   coordinator still loading): the gateway reports outcomes, in its own
 *   lines and in each request's answer.
 * - warn: the first failure to reach the brokers, once, in words: which
 *   brokers were tried, why, and what to do. It is said again only after
 *   Kafka was reached in between.
 * - info: Kafka reached (at start, and again after it had been unreachable).
 * - debug: every further failed attempt to reach the brokers.
 */
export class KafkaLog {
  readonly #logger: Logger;
  readonly #brokers: readonly string[];
  #unreachableSaid = false;

  constructor(logger: Logger, brokers: readonly string[]) {
    this.#logger = logger;
    this.#brokers = brokers;
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
  // Errors chain their causes as `cause`; aggregates hold the attempts in `errors`.
  for (let depth = 0; depth < 10; depth++) {
    const next = (current as { cause?: unknown } | undefined)?.cause ?? (current as { errors?: unknown[] } | undefined)?.errors?.at(-1);
    if (!(next instanceof Error)) break;
    current = next;
  }
  return current instanceof Error ? current.message : String(current);
}
