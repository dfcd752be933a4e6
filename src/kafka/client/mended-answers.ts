/**
 * Answers the client decodes further inside its socket callbacks, where a
 * throw ends the process, mended first. Group answers carry bytes other
 * clients wrote (subscriptions, assignments), which the client decodes
 * without a try; a request whose answer passes through `mendedApi` reaches
 * the client's own code only once `mend` made it safe to read.
 */
import type { API, Callback } from '@platformatic/kafka';

/** The same request, its answer handed to `mend` before the caller's callback sees it. */
export function mendedApi<RequestArguments extends Array<unknown>, ResponseType>(api: API<RequestArguments, ResponseType>, mend: (answer: ResponseType) => void): API<RequestArguments, ResponseType> {
  // The client calls its requests with a callback last; the wrapper keeps that shape for any argument list.
  const send = api as unknown as (...args: unknown[]) => void;
  const wrapped = (...args: unknown[]) => {
    const callback = args.pop() as Callback<ResponseType>;
    send(...args, (error: Error | null, answer?: ResponseType) => {
      if (answer) mend(answer);
      callback(error, answer);
    });
  };
  return Object.assign(wrapped, { async: api.async, key: api.key, version: api.version }) as unknown as API<RequestArguments, ResponseType>;
}

/** Whether `decode` reads its bytes without throwing. */
export function decodes(decode: () => unknown): boolean {
  try {
    decode();
    return true;
  } catch {
    return false;
  }
}
