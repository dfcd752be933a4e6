/**
 * A durable member that starts on the consumer protocol and goes on as a
 * classic member when the cluster refuses that protocol.
 *
 * ApiVersions cannot tell: a Kafka 4.x broker configured with
 * `group.coordinator.rebalance.protocols=classic` still lists
 * ConsumerGroupHeartbeat and finalizes `group.version` 1, and answers
 * every heartbeat UNSUPPORTED_VERSION. Only that answer says so; the
 * engine remembers it for the cluster, so later members join as classic
 * ones at once.
 */
import { GatewayError } from '../../common/index.js';
import { fromKafkaError } from '../client/index.js';
import { ConsumerProtocolRefused } from './consumer-group-member.js';
import type { MemberEvents, Membership, TopicPartitions } from './group-member.js';

export type MemberFactory = (events: MemberEvents) => Membership;

export class ProtocolFallbackMember implements Membership {
  #current: Membership;
  #left = false;

  constructor(
    readonly groupId: string,
    consumer: MemberFactory,
    private readonly classic: MemberFactory,
    /** Told on every refusal: the engine remembers it for the cluster. */
    private readonly refused: () => void,
    private readonly events: MemberEvents,
  ) {
    this.#current = consumer({ ...events, onLost: (error) => this.#lost(error) });
  }

  async join(): Promise<void> {
    try {
      await this.#current.join();
    } catch (error) {
      if (!(error instanceof ConsumerProtocolRefused)) throw error;
      await this.#joinClassic();
    }
  }

  async #joinClassic(): Promise<void> {
    this.refused();
    if (this.#left) throw new GatewayError('GW_ERR_SHUTTING_DOWN', 'The subscription ended while joining its group.');
    this.#current = this.classic(this.events);
    await this.#current.join();
  }

  /**
   * A joined member refused later: the cluster turned the protocol off under
   * it (a broker restarted with classic only). The member has stopped
   * delivering everything already; it joins again as a classic member, and
   * the subscription ends only if that fails too.
   */
  #lost(error: GatewayError): void {
    if (this.#left) return;
    if (!(error instanceof ConsumerProtocolRefused)) {
      this.events.onLost?.(error);
      return;
    }
    this.#joinClassic().catch((failure: unknown) => {
      if (!this.#left) this.events.onLost?.(failure instanceof GatewayError ? failure : fromKafkaError(failure, { group: this.groupId }));
    });
  }

  committed(partitions: readonly TopicPartitions[]): Promise<Map<string, bigint>> {
    return this.#current.committed(partitions);
  }

  commit(offsets: ReadonlyArray<{ topic: string; partition: number; next: bigint }>): Promise<void> {
    return this.#current.commit(offsets);
  }

  async leave(): Promise<void> {
    this.#left = true;
    await this.#current.leave();
  }
}
