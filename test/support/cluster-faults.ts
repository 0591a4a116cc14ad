import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');

/** The directory of the cluster `npm test` started (gateway.json lives in it). */
function clusterDir(): string {
  const file = process.env.SHARDGATE_TEST_CLUSTER;
  if (!file) throw new Error('SHARDGATE_TEST_CLUSTER is not set');
  return path.dirname(file);
}

/** Node names as cluster.sh uses them: catalog, shard-1, shard-1-replica, … */
export function postmasterPid(node: string): number {
  const pidFile = path.join(clusterDir(), 'pg', node, 'postmaster.pid');
  return Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
}

/** The pid of the cluster's redis-server (cluster.sh keeps its pidfile under redis/). */
export function redisPid(): number {
  return Number(readFileSync(path.join(clusterDir(), 'redis', 'redis.pid'), 'utf8').trim());
}

/**
 * Real faults on the test cluster's own processes: freeze (SIGSTOP: a hung server that
 * keeps its sockets open), thaw, kill (SIGKILL: connections reset), and restore (cluster.sh
 * up restarts whatever is down). Every test that injects a fault restores in `finally`.
 */
/** Postmasters killed and not yet restored: restore waits until each one is really gone. */
const killed = new Set<number>();

/**
 * A SIGKILLed postmaster stays in the process table until its parent reaps it, and
 * PostgreSQL refuses to start on a data directory whose lock file names a live pid (a
 * zombie counts): wait for the reaping (1–2 s here when PID 1 is the parent) before restarting.
 */
async function waitUntilGone(pids: Iterable<number>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const pid of pids) {
    while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const faults = {
  freeze(node: string): void {
    process.kill(postmasterPid(node), 'SIGSTOP');
    // the backends are separate processes: freeze them too, or open connections still answer
    for (const pid of childPids(postmasterPid(node))) safeKill(pid, 'SIGSTOP');
  },
  thaw(node: string): void {
    for (const pid of childPids(postmasterPid(node))) safeKill(pid, 'SIGCONT');
    process.kill(postmasterPid(node), 'SIGCONT');
  },
  kill(node: string): void {
    const pid = postmasterPid(node);
    for (const child of childPids(pid)) safeKill(child, 'SIGKILL');
    process.kill(pid, 'SIGKILL');
    killed.add(pid);
  },
  /** The cluster's Redis hung: its sockets stay open and nothing answers (thaw in an after hook). */
  freezeRedis(): void {
    process.kill(redisPid(), 'SIGSTOP');
  },
  thawRedis(): void {
    safeKill(redisPid(), 'SIGCONT');
  },
  async restore(): Promise<void> {
    await waitUntilGone(killed);
    killed.clear();
    await run('bash', [path.join(ROOT, 'shards/local/cluster.sh'), 'up'], { env: { ...process.env, CLUSTER_DIR: clusterDir() }, timeout: 120_000 });
  },
};

function safeKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function childPids(parent: number): number[] {
  try {
    return readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
