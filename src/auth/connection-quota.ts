import { GatewayError } from '../common/index.js';
import type { Principal } from './acl.js';
import { clientAddressKey } from './rate-limit.js';

export interface QuotaLimits {
  /** Open at once from one client address (an IPv6 /64 counts as one); 0 for no cap. */
  readonly perAddress: number;
  /** Open at once by one authenticated principal; 0 for no cap. The anonymous principal of auth mode `none` is everyone, so it has none. */
  readonly perPrincipal: number;
}

/** Seconds a refused client is told to wait: a slot frees only when one of its own connections ends. */
const RETRY_AFTER_SECONDS = 5;

/**
 * Long-lived connections (WebSocket sessions, event streams) held at once
 * per client address and per principal, so that one client cannot take
 * every slot of the process and leave the next client from anywhere a 503.
 * The process-wide cap stays where the connections are kept.
 */
export class ConnectionQuota {
  readonly #byAddress = new Map<string, number>();
  readonly #byPrincipal = new Map<string, number>();

  constructor(
    /** What is counted, for the refusal: "WebSocket connections", "event streams". */
    private readonly what: string,
    private readonly limits: QuotaLimits,
    /** The variables that set the caps, named in the refusal so an operator knows what to change. */
    private readonly settings: { readonly perAddress: string; readonly perPrincipal: string },
  ) {}

  /**
   * Takes one slot for the address and the principal, or throws 429 when
   * either is at its cap. The returned release gives it back; calling it
   * more than once gives back one slot.
   */
  take(address: string | undefined, principal: Principal): () => void {
    const addressKey = clientAddressKey(address);
    const principalKey = principal.anonymous ? undefined : principal.name;
    const { perAddress, perPrincipal } = this.limits;
    if (perAddress > 0 && (this.#byAddress.get(addressKey) ?? 0) >= perAddress) {
      throw this.#refusal(`this client address holds its maximum of ${perAddress} ${this.what} (${this.settings.perAddress})`);
    }
    if (principalKey !== undefined && perPrincipal > 0 && (this.#byPrincipal.get(principalKey) ?? 0) >= perPrincipal) {
      throw this.#refusal(`${principal.name} holds its maximum of ${perPrincipal} ${this.what} (${this.settings.perPrincipal})`);
    }
    add(this.#byAddress, addressKey, 1);
    if (principalKey !== undefined) add(this.#byPrincipal, principalKey, 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      add(this.#byAddress, addressKey, -1);
      if (principalKey !== undefined) add(this.#byPrincipal, principalKey, -1);
    };
  }

  /** Slots held now by the address and by the principal's name, for tests and metrics. */
  held(address: string | undefined, principalName?: string): { address: number; principal: number } {
    return { address: this.#byAddress.get(clientAddressKey(address)) ?? 0, principal: principalName === undefined ? 0 : (this.#byPrincipal.get(principalName) ?? 0) };
  }

  #refusal(why: string): GatewayError {
    return new GatewayError('GW_ERR_TOO_MANY_REQUESTS', `Too many ${this.what}: ${why}; close one before opening another.`, {
      retryAfterSeconds: RETRY_AFTER_SECONDS,
    });
  }
}

/** Counts that reach zero are dropped, so the maps hold only clients with something open. */
function add(counts: Map<string, number>, key: string, delta: number): void {
  const next = (counts.get(key) ?? 0) + delta;
  if (next <= 0) counts.delete(key);
  else counts.set(key, next);
}
