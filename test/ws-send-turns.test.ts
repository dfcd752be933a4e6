/**
 * SendTurns (pure logic, no sockets): connections with records queued take
 * turns of a bounded size, each turn's corks come off at its end, a
 * connection handed more during its turn gets a later one, and a closed one
 * gets none.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SendTurns, type TurnTaker } from '../src/ws/send-turns.js';

/** Records what happens to one taker, in a log shared by all of them. */
function taker(name: string, log: string[], opts: { corks?: boolean; onTurn?: () => void } = {}): TurnTaker {
  return {
    takeTurn() {
      log.push(`${name} writes`);
      opts.onTurn?.();
      return opts.corks ?? true;
    },
    endTurn() {
      log.push(`${name} uncorked`);
    },
  };
}

const turnOver = () => new Promise<void>((resolve) => setImmediate(resolve));

test('turns of at most perTurn connections, every cork taken off at the end of its own turn, before the next turn', async () => {
  const log: string[] = [];
  const turns = new SendTurns(2);
  for (const name of ['a', 'b', 'c', 'd', 'e']) turns.add(taker(name, log));
  assert.deepEqual(log, [], 'nothing is written in the turn that queued the records');
  await turnOver();
  assert.deepEqual(log, ['a writes', 'b writes', 'a uncorked', 'b uncorked']);
  await turnOver();
  await turnOver();
  assert.deepEqual(log.slice(4), ['c writes', 'd writes', 'c uncorked', 'd uncorked', 'e writes', 'e uncorked']);
});

test('a connection added twice before its turn writes once; one handed more during its turn is due again; a removed one gets no turn; one already corked is not uncorked', async () => {
  const log: string[] = [];
  const turns = new SendTurns(10);
  let again = true;
  const a = taker('a', log, {
    onTurn: () => {
      if (again) turns.add(a);
      again = false;
    },
  });
  const b = taker('b', log);
  const c = taker('c', log, { corks: false });
  turns.add(a);
  turns.add(a);
  turns.add(b);
  turns.add(c);
  turns.remove(b);
  await turnOver();
  assert.deepEqual(log, ['a writes', 'c writes', 'a uncorked']);
  await turnOver();
  assert.deepEqual(log.slice(3), ['a writes', 'a uncorked']);
  await turnOver();
  assert.equal(log.length, 5, 'nothing more is due');
});
