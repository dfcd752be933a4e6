/**
 * Records fetched once often go to thousands of sockets. Writing them all
 * in the turn of the event loop that fetched them held every socket's bytes
 * back until the last one was written (the sockets are corked for the
 * turn), and held every other callback (client frames, the next fetch, the
 * other partitions' records) back as long: at 10,000 subscriptions the
 * later sockets of every record waited for the whole fan-out. Connections
 * with records to send take turns instead, a bounded number per turn of the
 * event loop, each corked for its turn and uncorked at its end, so the
 * first sockets' bytes leave while the others are still being written and
 * the clients read while the gateway writes.
 */

/** What a connection with records queued does in its turn. */
export interface TurnTaker {
  /** Writes what it has queued, corked; returns whether its end must uncork. */
  takeTurn(): boolean;
  /** The turn is over: the bytes go out. */
  endTurn(): void;
}

/** Connections written per turn: enough that a turn's cost is the writes, few enough that a socket waits for a few hundred others at most. */
export const CONNECTIONS_PER_TURN = 256;

export class SendTurns {
  readonly #due = new Set<TurnTaker>();
  #scheduled = false;

  constructor(private readonly perTurn = CONNECTIONS_PER_TURN) {}

  /** The connection has records to send; it gets a turn soon, once however many batches it is handed meanwhile. */
  add(taker: TurnTaker): void {
    this.#due.add(taker);
    this.#schedule();
  }

  /** A closed connection needs no turn. */
  remove(taker: TurnTaker): void {
    this.#due.delete(taker);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#run());
  }

  #run(): void {
    this.#scheduled = false;
    const turn: TurnTaker[] = [];
    for (const taker of this.#due) {
      turn.push(taker);
      if (turn.length === this.perTurn) break;
    }
    const uncork: TurnTaker[] = [];
    for (const taker of turn) {
      // Out first: a connection handed more while taking its turn is due again, in a later turn.
      this.#due.delete(taker);
      if (taker.takeTurn()) uncork.push(taker);
    }
    for (const taker of uncork) taker.endTurn();
    if (this.#due.size > 0) this.#schedule();
  }
}
