/**
 * A real `npm run dev` as a user starts it from a terminal: npm leads a
 * process group of its own (as a shell's job would), with a private
 * TMPDIR so that what it leaves behind, processes or folders, is told
 * apart from every other broker on the machine.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DevProcess {
  /** The gateway's base URL from the banner, e.g. http://127.0.0.1:41234. */
  readonly url: string;
  /** npm itself: its pid is the process group's id. */
  readonly npm: ChildProcess;
  readonly pgid: number;
  /** The TMPDIR the command ran with. */
  readonly tmp: string;
  /** Everything printed so far, stdout and stderr. */
  output(): string;
  /** Resolves when npm has exited. */
  readonly exited: Promise<void>;
}

/** Starts `npm run dev` on a free port with its own broker; resolves once it prints its banner. */
export async function startDev(extraEnv: Record<string, string> = {}): Promise<DevProcess> {
  const tmp = mkdtempSync(join(tmpdir(), 'gateway-dev-run-'));
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, PORT: '0', ...extraEnv };
  // The suite's broker is not this command's: it starts its own, as on a fresh clone.
  delete env.KAFKA_BROKERS;
  const npm = spawn('npm', ['run', 'dev'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  npm.stdout.on('data', (d: Buffer) => (output += d.toString()));
  npm.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /Kafka Gateway is running[^\n]*\n\s*Page:\s*(http:\/\/[^/\s]+)\//.exec(output);
      if (match?.[1]) resolve(match[1]);
    };
    npm.stdout.on('data', check);
    void exited.then(() => reject(new Error(`npm run dev exited before its banner:\n${output}`)));
  });
  if (npm.pid === undefined) throw new Error('npm run dev did not start');
  return { url, npm, pgid: npm.pid, tmp, output: () => output, exited };
}

function pgrep(args: string[]): string[] {
  try {
    return execFileSync('pgrep', args, { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    // pgrep exits 1 when nothing matches.
    return [];
  }
}

/** Processes whose command line names this run's TMPDIR: its broker's guard and java. */
export function brokerProcesses(dev: DevProcess): string[] {
  return pgrep(['-a', '-f', dev.tmp]);
}

/** Every process still in the command's process group. */
export function groupProcesses(dev: DevProcess): string[] {
  return pgrep(['-a', '-g', String(dev.pgid)]);
}

/** The process that started the broker (scripts/dev.ts): the parent of the broker's guard. */
export function brokerOwner(dev: DevProcess): number {
  const guard = pgrep(['-f', `broker-guard.mjs ${dev.tmp}`])[0];
  if (!guard) throw new Error(`no broker guard runs under ${dev.tmp}`);
  const stat = readFileSync(`/proc/${guard}/stat`, 'utf8');
  // Field 4 of /proc/<pid>/stat, after the parenthesised command name.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/**
 * What the run left in its TMPDIR, apart from compile caches reused by every
 * run: tsx's, and Node's own (node-compile-cache, which npm itself turns on
 * where Node has it, from 22.1).
 */
export function tmpLeftovers(dev: DevProcess): string[] {
  return readdirSync(dev.tmp).filter((name) => !/^tsx-\d+$/.test(name) && name !== 'node-compile-cache');
}

/** Kills whatever is left of a run and deletes its TMPDIR, so a failed test leaves nothing either. */
export function cleanUp(dev: DevProcess): void {
  for (const line of [...groupProcesses(dev), ...brokerProcesses(dev)]) {
    const pid = Number(line.split(' ')[0]);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  rmSync(dev.tmp, { recursive: true, force: true });
}
