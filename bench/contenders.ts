import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { REPO_DIR, RESULTS_DIR } from './options.js';

/** A contender: one server process under load, on its own port. */
export interface Contender {
  readonly name: string;
  readonly url: string;
  /** admin API, for shardgate processes */
  readonly adminUrl: string | undefined;
  /** the server process, to read its CPU time */
  readonly pid: number;
  stop(): Promise<void>;
}

export interface SpawnSpec {
  readonly name: string;
  /** node arguments after the node binary: flags, then the entry file */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

// variables that would steer a child away from what the bench sets explicitly
const INHERITED_NOISE = /^(OTEL_|GATEWAY_|SHARDGATE_|BENCH_|PORT$|ADMIN_PORT$|REDIS_URL$|CATALOG_URL$|CACHE_ENABLED$|ROUTING_HEADERS$|NODE_ENV$|LOG_LEVEL$|NODE_OPTIONS$)/;

function childEnv(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!INHERITED_NOISE.test(k)) env[k] = v;
  return { ...env, ...extra };
}

interface ReadyLine {
  msg?: unknown;
  port?: unknown;
  adminPort?: unknown;
}

/** Parses a stdout line; shardgate logs `gateway ready` (pino JSON), the baselines print `bench server ready`. */
function readyPorts(line: string): { port: number; adminPort: number | undefined } | undefined {
  if (!line.startsWith('{')) return undefined;
  let parsed: ReadyLine;
  try {
    parsed = JSON.parse(line) as ReadyLine;
  } catch {
    return undefined;
  }
  if ((parsed.msg !== 'gateway ready' && parsed.msg !== 'bench server ready') || typeof parsed.port !== 'number') return undefined;
  return { port: parsed.port, adminPort: typeof parsed.adminPort === 'number' ? parsed.adminPort : undefined };
}

// every child still running, so a signal to the harness can stop them before it exits
const live = new Set<ChildProcess>();

/** Stops every contender still running (the harness was interrupted). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((child) => stopChild(child)));
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts a server process and waits for its ready line. Its output goes to
 * bench/results/logs/<name>.log, so a failed start can be read afterwards.
 */
export function spawnContender(spec: SpawnSpec, timeoutMs = 90_000): Promise<Contender> {
  const logDir = path.join(RESULTS_DIR, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${spec.name}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, [...spec.args], { cwd: REPO_DIR, env: childEnv(spec.env), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.stderr?.pipe(log, { end: false });
  const lines = createInterface({ input: child.stdout! });
  return new Promise<Contender>((resolve, reject) => {
    let ready = false;
    const fail = (why: string) => {
      clearTimeout(timer);
      void stopChild(child).finally(() => reject(new Error(`${spec.name} did not start: ${why} (log: ${logFile})`)));
    };
    const timer = setTimeout(() => fail(`no ready line after ${timeoutMs} ms`), timeoutMs);
    child.once('exit', (code, signal) => {
      live.delete(child);
      if (!ready) fail(`exited with ${code ?? signal}`);
      log.end();
    });
    lines.on('line', (line) => {
      log.write(line + '\n');
      if (ready) return;
      const ports = readyPorts(line);
      if (ports === undefined) return;
      ready = true;
      clearTimeout(timer);
      resolve({
        name: spec.name,
        url: `http://127.0.0.1:${ports.port}`,
        adminUrl: ports.adminPort === undefined ? undefined : `http://127.0.0.1:${ports.adminPort}`,
        pid: child.pid!,
        stop: () => stopChild(child),
      });
    });
  });
}
