import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

/**
 * Real faults on the test cluster's own processes: freeze (SIGSTOP: a hung server that
 * keeps its sockets open), thaw, kill (SIGKILL: connections reset), and restore (cluster.sh
 * up restarts whatever is down). Every test that injects a fault restores in `finally`.
 */
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
  },
  async restore(): Promise<void> {
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
