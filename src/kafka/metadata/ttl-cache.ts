/**
 * A short-lived cache of metadata answers. It stores the promise, not the
 * value, so a burst of identical requests that arrives before the broker
 * has answered shares one round trip instead of starting one each. A failed
 * lookup is dropped at once: an outage must not be cached for the TTL.
 */
export class TtlCache {
  #entries = new Map<string, { readonly value: Promise<unknown>; readonly expires: number }>();
  #generation = 0;

  /** `ttlMs` 0 still shares in-flight lookups, but keeps nothing once they settle. */
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.#entries.get(key);
    if (hit && hit.expires > this.now()) return hit.value as Promise<T>;
    const generation = this.#generation;
    const value = load();
    // Until it settles the entry lives forever, so concurrent callers find it;
    // the TTL starts when the broker's answer arrives.
    const entry = { value, expires: Number.POSITIVE_INFINITY };
    this.#entries.set(key, entry);
    value.then(
      () => {
        if (this.#entries.get(key) !== entry) return;
        // An invalidation while the lookup ran means its answer may predate the change.
        if (this.ttlMs === 0 || generation !== this.#generation) this.#entries.delete(key);
        else this.#entries.set(key, { value, expires: this.now() + this.ttlMs });
      },
      () => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      },
    );
    return value;
  }

  /** Forgets everything: the gateway changed the cluster itself. */
  clear(): void {
    this.#generation += 1;
    this.#entries.clear();
  }
}
