/**
 * `sh scripts/node.sh --import tsx bench/resume-token.ts`: what an event
 * stream's ids cost per record, no broker needed: a fresh token of every
 * partition's positions per record (a Map, sorted, encoded: how streams
 * made them before) against one ResumeTokenWriter per batch of 500 records
 * moved one partition at a time (how they make them now).
 */
import { encodeResumeToken, ResumeTokenWriter } from '../src/sse/resume-token.js';

const BATCH = 500;
const base: bigint = 1_234_567n;
for (const partitions of [1, 3, 12, 48]) {
  const positions = new Map(Array.from({ length: partitions }, (_, p) => [p, base] as const));
  const perRecord = () => {
    let last = '';
    for (let i = 0; i < BATCH; i++) {
      const p = i % partitions;
      positions.set(p, positions.get(p)! + 1n);
      last = encodeResumeToken('orders', new Map([...positions]));
    }
    return last;
  };
  const perBatch = () => {
    const writer = new ResumeTokenWriter('orders', positions);
    let last = '';
    for (let i = 0; i < BATCH; i++) {
      const p = i % partitions;
      const next = positions.get(p)! + 1n;
      positions.set(p, next);
      writer.set(p, next);
      last = writer.token();
    }
    return last;
  };
  const time = (run: () => string) => {
    for (let i = 0; i < 50; i++) run();
    const began = performance.now();
    let rounds = 0;
    while (performance.now() - began < 1000) {
      run();
      rounds++;
    }
    return ((performance.now() - began) * 1e6) / (rounds * BATCH);
  };
  const before = time(perRecord);
  const after = time(perBatch);
  process.stdout.write(`${partitions} partition(s): ${before.toFixed(0)} ns per id before, ${after.toFixed(0)} ns after (${(before / after).toFixed(1)}x)\n`);
}
