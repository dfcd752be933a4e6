/**
 * The one way the gateway bounds a wait. Whatever is waited on (a Kafka
 * call, the schemas loading, in-flight requests at shutdown) settles as
 * itself, or after `ms` as whatever `expired` returns or throws. The work is
 * not cancelled: its late failure is of no interest to the waiter, so it is
 * swallowed rather than left unhandled.
 */
export async function withDeadline<T, E = never>(work: Promise<T>, ms: number, expired: () => E): Promise<T | E> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<E>((resolve, reject) => {
        timer = setTimeout(() => {
          try {
            resolve(expired());
          } catch (error) {
            reject(error);
          }
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}
