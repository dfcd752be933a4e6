import { Admin, type BaseOptions } from '@platformatic/kafka';
import type { Config } from '../config.js';
import { withDeadline, type Logger } from '../common/index.js';
import { clientOptions, KafkaLog, reasonOf, guardConnections, isAuthenticationFailure } from './client/index.js';
import { GroupDescribingAdmin } from './metadata/index.js';
import { ProducerSession } from './produce/index.js';

/** A connection failure that retrying cannot mend, as an error whose message says what to fix. */
function fatalConnectError(error: unknown, config: Config['kafka']): Error | undefined {
  if (!isAuthenticationFailure(error)) return undefined;
  const who = config.sasl ? `user ${JSON.stringify(config.sasl.username)} with ${config.sasl.mechanism.toUpperCase()}` : 'the gateway';
  return new Error(`Kafka refused to authenticate ${who}: check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD.`);
}

export interface Readiness {
  readonly ready: boolean;
  /** Why the gateway is not ready, for /readyz and the logs. */
  readonly reason?: string;
}

/**
 * The process's connections to Kafka for producing and administration: one
 * admin client (metadata, topic and group administration, and the API
 * versions the produce requests use), one idempotent producer session, and
 * a separate no-retry client for health probes. Connecting never blocks
 * start-up: the gateway serves /healthz and answers /readyz with 503 until
 * the broker is reachable.
 */
export class KafkaConnection {
  readonly admin: Admin;
  readonly #options: BaseOptions;

  /** The client options every connection of the gateway's own pools uses. */
  get options(): BaseOptions {
    return this.#options;
  }
  #producer: ProducerSession;
  readonly #probe: Admin;
  #connected = false;
  #connecting?: Promise<void>;
  #firstAttempt?: Promise<void>;
  #firstAttemptDone?: (error?: Error) => void;
  #closed = false;
  #retryTimer?: NodeJS.Timeout;
  readonly #log: KafkaLog;

  constructor(
    readonly config: Config,
    logger: Logger,
  ) {
    this.#log = new KafkaLog(logger, config.kafka.brokers);
    // Failures are retried by the gateway where it knows what a retry may do; a few quick ones here cover a moving leader.
    this.#options = clientOptions(config.kafka, config.kafka.clientId, { retries: 2, retryDelay: 200 });
    this.admin = new GroupDescribingAdmin(this.#options);
    guardConnections(this.admin);
    this.#producer = new ProducerSession(this.admin, this.#options, config.kafka.requestTimeoutMs);
    this.#probe = new Admin(clientOptions(config.kafka, `${config.kafka.clientId}-probe`, { retries: 0 }));
    guardConnections(this.#probe);
  }

  get producer(): ProducerSession {
    return this.#producer;
  }

  /**
   * Replaces the producer session with a new one, under a new producer id:
   * after a send whose outcome is unknown, the broker may hold that batch,
   * and a later batch under the same sequence numbers would be dropped as
   * its duplicate while being acknowledged.
   */
  async renewProducer(): Promise<void> {
    const old = this.#producer;
    this.#producer = new ProducerSession(this.admin, this.#options, this.config.kafka.requestTimeoutMs);
    await old.close();
  }

  /**
   * Starts connecting; retries in the background until it succeeds or
   * close() is called. Resolves once connected; rejects only on a failure
   * no retry can mend, such as credentials the broker refuses.
   */
  connect(): Promise<void> {
    this.#connecting ??= this.#connectLoop();
    return this.#connecting;
  }

  /**
   * Resolves after the first connection attempt, whether it succeeded or
   * will be retried; rejects when it failed for good. Start-up waits on
   * this so that a wrong password stops the process with a clear message
   * while an absent broker does not.
   */
  firstAttempt(): Promise<void> {
    this.#firstAttempt ??= new Promise<void>((res, rej) => {
      this.#firstAttemptDone = (error) => (error ? rej(error) : res());
    });
    void this.connect().catch(() => undefined);
    return this.#firstAttempt;
  }

  async #connectLoop(): Promise<void> {
    let delay = 250;
    while (!this.#closed) {
      try {
        await this.admin.metadata({ topics: [] , forceUpdate: true });
        this.#connected = true;
        this.#log.reached(true);
        this.#firstAttemptDone?.();
        return;
      } catch (error) {
        const fatal = fatalConnectError(error, this.config.kafka);
        if (fatal) {
          this.#firstAttemptDone?.(fatal);
          throw fatal;
        }
        this.#firstAttemptDone?.();
        this.#log.unreachable(reasonOf(error));
        await new Promise<void>((res) => {
          this.#retryTimer = setTimeout(res, delay);
        });
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  /** Ready once connected and while a broker answers a metadata request in time. */
  async readiness(timeoutMs = this.config.kafka.connectionTimeoutMs): Promise<Readiness> {
    if (!this.#connected) return { ready: false, reason: 'the gateway has not reached Kafka yet' };
    const probe = (async (): Promise<Readiness> => {
      try {
        const metadata = await this.#probe.metadata({ topics: [], forceUpdate: true });
        if (metadata.brokers.size === 0) return { ready: false, reason: 'the cluster reports no brokers' };
        this.#log.reached();
        return { ready: true };
      } catch (error) {
        this.#log.unreachable(reasonOf(error));
        return { ready: false, reason: `Kafka is not reachable: ${reasonOf(error)}` };
      }
    })();
    return withDeadline(probe, timeoutMs, () => ({ ready: false, reason: `no Kafka broker answered within ${timeoutMs} ms` }));
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    await Promise.allSettled([this.#producer.close(), this.admin.close(), this.#probe.close()]);
  }
}
