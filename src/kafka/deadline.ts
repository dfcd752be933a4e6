import { GatewayError } from '../errors.js';

/**
 * Waits for a Kafka call at most `ms`. kafkajs retries for tens of seconds
 * while the broker is away; a client should get a 503 it can act on instead.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `Kafka did not answer within ${ms} ms; retry shortly.`, { retryAfterSeconds: 1 })), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    // The call goes on in kafkajs; its late failure is of no interest here.
    work.catch(() => undefined);
  }
}
