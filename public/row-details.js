// Lists whose rows need one more request each (a topic's latest offsets and
// schema, a group's members and lag: the listings do not carry them) ask
// only for rows that come on screen, a few at a time, and stop asking once
// the gateway says the credential is missing or the rate is used up, since
// every further request would fail the same way and count against the
// address's limit.

import { ApiError } from './api.js';

/**
 * `load(key)` fetches a row's detail; `fill(row, detailOrError)` draws it.
 * Rows carry their key in `data-key`. One request at a time by default:
 * the gateway's Kafka client (kafkajs) can answer 500 to describes of
 * different topics made at the same moment, and rows on screen are few.
 */
export function rowDetails({ load, fill, concurrency = 1 }) {
  const answers = new Map(); // key -> detail or ApiError, for redraws of the same list
  const waiting = [];
  let running = 0;
  let generation = 0;
  let stopped = false;

  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      waiting.push(entry.target);
    }
    pump();
  });

  function pump() {
    while (!stopped && running < concurrency && waiting.length) {
      const row = waiting.shift();
      if (!row.isConnected) continue;
      const key = row.dataset.key;
      const mine = generation;
      running += 1;
      load(key)
        .then((detail) => answers.set(key, detail))
        .catch((error) => {
          answers.set(key, error);
          if (error instanceof ApiError && (error.status === 401 || error.status === 429)) stopped = true;
        })
        .finally(() => {
          running -= 1;
          if (mine === generation && row.isConnected) fill(row, answers.get(key));
          pump();
        });
    }
  }

  return {
    /** Draws the row's detail now if known, else asks for it once the row is on screen. */
    watch(row) {
      const known = answers.get(row.dataset.key);
      if (known) fill(row, known);
      else observer.observe(row);
    },
    /** Forgets rows being watched (the list is drawn anew); answers are kept unless `forget`. */
    reset({ forget = false } = {}) {
      generation += 1;
      observer.disconnect();
      waiting.length = 0;
      if (forget) {
        answers.clear();
        stopped = false;
      }
    },
    stop() {
      stopped = true;
      observer.disconnect();
    },
  };
}
