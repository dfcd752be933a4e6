/**
 * Token buckets per key (a principal, or a client address for failed
 * authentication), in this process's memory: each instance
 * behind a load balancer limits on its own, so the cluster-wide rate is up
 * to the per-instance rate times the number of instances.
 */
export interface RateDecision {
  readonly allowed: boolean;
  /** Whole seconds until a token is available, for Retry-After. */
  readonly retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  /** `ratePerSecond` 0 disables limiting. `maxKeys` bounds memory under many distinct principals. */
  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  take(key: string): RateDecision {
    if (this.ratePerSecond === 0) return { allowed: true, retryAfterSeconds: 0 };
    const bucket = this.#refilled(key);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterSeconds: 0 };
    }
    return this.#refusal(bucket);
  }

  /** Whether `take` would allow now, without taking a token. */
  peek(key: string): RateDecision {
    if (this.ratePerSecond === 0 || !this.#buckets.has(key)) return { allowed: true, retryAfterSeconds: 0 };
    const bucket = this.#refilled(key);
    return bucket.tokens >= 1 ? { allowed: true, retryAfterSeconds: 0 } : this.#refusal(bucket);
  }

  #refusal(bucket: Bucket): RateDecision {
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSecond)) };
  }

  #refilled(key: string): Bucket {
    const now = this.now();
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= this.maxKeys) this.#evictFull(now);
      bucket = { tokens: this.burst, updatedAt: now };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.ratePerSecond);
    bucket.updatedAt = now;
    return bucket;
  }

  /** A bucket that has refilled is the same as no bucket: dropping it loses nothing. */
  #evictFull(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.ratePerSecond >= this.burst) this.#buckets.delete(key);
    }
    if (this.#buckets.size >= this.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value as string);
  }
}

/**
 * The bucket key of a client address: an IPv4 address as is (also when
 * mapped into IPv6), an IPv6 address by its /64 prefix, since one client
 * is commonly given a whole /64 and could otherwise rotate through it.
 */
export function clientAddressKey(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('%')[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
