import { Partitioners, type Admin, type Kafka, type Producer } from 'kafkajs';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createKafka } from './client.js';
import { isAuthenticationFailure } from './errors.js';
import { KafkaLog, reasonOf } from './log-policy.js';

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
 * The process's connections to Kafka: one idempotent producer shared by all
 * requests, one admin client, and a separate no-retry client for health
 * probes. Connecting never blocks start-up: the gateway serves /healthz and
 * answers /readyz with 503 until the broker is reachable.
 */
export class KafkaConnection {
  readonly kafka: Kafka;
  readonly admin: Admin;
  #producer: Producer;
  #probe: Admin;
  #producerConnected = false;
  #connecting?: Promise<void>;
  #firstAttempt?: Promise<void>;
  #firstAttemptDone?: (error?: Error) => void;
  #closed = false;
  #retryTimer?: NodeJS.Timeout;
  readonly #log: KafkaLog;

  constructor(
    readonly config: Config,
    private readonly logger: Logger,
  ) {
    this.#log = new KafkaLog(logger, config.kafka.brokers);
    this.kafka = createKafka(config.kafka, this.#log);
    this.admin = this.kafka.admin();
    // Idempotence makes the broker drop the duplicates a retry after a lost
    // acknowledgement would otherwise write; it requires acks from all ISRs.
    // The default partitioner is the Java client's murmur2, so a key lands on
    // the same partition whichever client wrote it.
    this.#producer = this.#newProducer();
    this.#probe = createKafka(config.kafka, this.#log, { retry: { retries: 0 } }).admin();
  }

  get producer(): Producer {
    return this.#producer;
  }

  #newProducer(): Producer {
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    producer.on(producer.events.DISCONNECT, () => {
      if (producer === this.#producer) this.#producerConnected = false;
    });
    return producer;
  }

  /**
   * Replaces the producer with a new one, under a new producer id. kafkajs
   * rewinds its sequence numbers when a send fails; if the broker had in
   * fact written that batch, the next batch under the same producer id
   * would carry the same sequence and be dropped as a duplicate while
   * being acknowledged. A fresh producer id rules that out.
   */
  async renewProducer(): Promise<void> {
    const fresh = this.#newProducer();
    await fresh.connect();
    const old = this.#producer;
    this.#producer = fresh;
    this.#producerConnected = true;
    await old.disconnect().catch((error: unknown) => this.logger.debug({ err: error }, 'old producer disconnect failed'));
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
        await this.producer.connect();
        await this.admin.connect();
        this.#producerConnected = true;
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

  /** Ready when the producer is connected and a broker answers a metadata request in time. */
  async readiness(timeoutMs = this.config.kafka.connectionTimeoutMs): Promise<Readiness> {
    if (!this.#producerConnected) return { ready: false, reason: 'the Kafka producer is not connected yet' };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Readiness>((res) => {
      timer = setTimeout(() => res({ ready: false, reason: `no Kafka broker answered within ${timeoutMs} ms` }), timeoutMs);
    });
    const probe = (async (): Promise<Readiness> => {
      try {
        await this.#probe.connect();
        const cluster = await this.#probe.describeCluster();
        if (cluster.brokers.length === 0) return { ready: false, reason: 'the cluster reports no brokers' };
        this.#log.reached();
        return { ready: true };
      } catch (error) {
        await this.#probe.disconnect().catch(() => undefined);
        return { ready: false, reason: `Kafka is not reachable: ${(error as Error).name}` };
      }
    })();
    try {
      return await Promise.race([probe, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect(), this.#probe.disconnect()]);
  }
}
