/** The gateway as a real process (src/main.ts), as a deployment runs it. It must log at info or lower: its URL is read from the log. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { sharedBrokers } from './env.js';

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Every JSON log line so far. */
  readonly lines: Array<Record<string, unknown>>;
  readonly exit: Promise<number | null>;
  stderr(): string;
  /** Resident memory of the process now, in bytes (Linux). */
  rss(): number;
}

export async function runGateway(env: Record<string, string> = {}, nodeOptions: readonly string[] = []): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [...nodeOptions, '--import', 'tsx', 'src/main.ts'], {
    // The suite's broker only when the caller names none: a test with brokers of its own runs without the suite's.
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: '5000', ...env, KAFKA_BROKERS: env.KAFKA_BROKERS ?? sharedBrokers() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines: Array<Record<string, unknown>> = [];
  const exit = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const url = await new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry.msg === 'gateway listening') res(String(entry.url));
    });
    void exit.then((code) => rej(new Error(`gateway exited early with ${code}: ${stderr}`)));
    setTimeout(() => rej(new Error(`gateway did not say it was listening within 60 s: ${stderr}`)), 60_000).unref();
  });
  return {
    child,
    url,
    lines,
    exit,
    stderr: () => stderr,
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024,
  };
}
