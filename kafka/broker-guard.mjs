// @ts-check
/**
 * The process that owns one development broker: it formats the KRaft log
 * dir (on first start), runs java, and takes both down with it.
 *
 *   node kafka/broker-guard.mjs <spec.json>
 *
 * kafka/broker.ts starts it in a process group of its own, so a terminal's
 * Ctrl-C (SIGINT to the foreground group) reaches only the parent, which
 * then stops the broker in order. The parent speaks to the guard through
 * stdin alone:
 *
 * - `halt` then end of input: SIGTERM to java (SIGKILL if it lingers), keep
 *   the data for a restart;
 * - `crash` then end of input: SIGKILL to java at once, as a crash would,
 *   and keep the data for a restart;
 * - end of input without `halt`: the parent stopped the broker or died,
 *   however it died (SIGKILL included): SIGKILL to java, delete the data dir
 *   (and the spec's `rootDir` too once it is empty: the folder all nodes of
 *   a cluster share).
 *
 * Plain JavaScript so that it starts in milliseconds with no loader.
 */
import { spawn, spawnSync } from 'node:child_process';
import { openSync, readFileSync, rmSync, rmdirSync } from 'node:fs';

/** @type {{ dataDir: string; logFile: string; format?: string[]; run: string[]; rootDir?: string }} */
const spec = JSON.parse(readFileSync(String(process.argv[2]), 'utf8'));
/** How long a halted broker may take to shut down cleanly before it is killed. */
const HALT_GRACE_MS = 15_000;

// Belt and braces: should a signal meant for the parent's group reach us anyway, the parent decides.
process.on('SIGINT', () => undefined);

const log = openSync(spec.logFile, 'a');
let command = '';
let inputEnded = false;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  command += chunk;
});
process.stdin.on('end', () => {
  inputEnded = true;
});

if (spec.format) {
  const formatted = spawnSync('java', spec.format, { stdio: ['ignore', log, log] });
  if (formatted.status !== 0) {
    // The parent reads the reason from the log file and deletes the dir.
    process.exit(3);
  }
}

const java = spawn('java', spec.run, { stdio: ['ignore', log, log] });
java.once('exit', (code, signal) => {
  if (inputEnded) return;
  // The broker died on its own: the parent learns it from our exit.
  process.exitCode = code ?? (signal ? 1 : 0);
  process.stdin.destroy();
});

const finish = () => {
  const halt = command.trim() === 'halt';
  const keep = halt || command.trim() === 'crash';
  if (java.exitCode !== null || java.signalCode !== null) return done(keep);
  java.once('exit', () => done(keep));
  java.kill(halt ? 'SIGTERM' : 'SIGKILL');
  if (halt) setTimeout(() => java.kill('SIGKILL'), HALT_GRACE_MS).unref();
};
if (inputEnded) finish();
else process.stdin.once('end', finish);

/** @param {boolean} keep */
function done(keep) {
  if (!keep) {
    rmSync(spec.dataDir, { recursive: true, force: true });
    // The nodes of a cluster share a folder: whichever guard deletes its dir last finds it empty and takes it too.
    if (spec.rootDir) {
      try {
        rmdirSync(spec.rootDir);
      } catch {
        // Not empty yet (another guard's dir is still there) or gone already.
      }
    }
  }
  process.exit(0);
}
