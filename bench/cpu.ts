import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import pg from 'pg';

/** clock ticks per second of /proc/<pid>/stat times (100 on every common Linux) */
function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

const TICKS = clockTicks();

/**
 * CPU time (user + system) a process has used so far, in µs; undefined off Linux. Per-request
 * CPU is the steadier number on a shared machine: rps falls when neighbours take the CPU,
 * the CPU a request costs barely moves.
 */
export function cpuMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" that closes the command name: utime and stime are the 12th and 13th
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS;
  } catch {
    return undefined;
  }
}

/**
 * The postmaster of each PostgreSQL server (by a privileged URL: `data_directory` is theirs
 * to read), when it runs on this machine; servers elsewhere are left out.
 */
export async function postmasterPids(adminUrls: readonly string[]): Promise<number[]> {
  const pids: number[] = [];
  for (const url of adminUrls) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      const dir = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
      const pid = Number(readFileSync(`${dir}/postmaster.pid`, 'utf8').split('\n')[0]);
      if (Number.isInteger(pid) && pid > 0) pids.push(pid);
    } catch {
      // not local, or not ours to read: its CPU is not counted
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return pids;
}

/** CPU time (µs) so far of each process of the servers: each postmaster and every process it forked still running. */
export type ServerCpuSample = ReadonlyMap<number, number>;

export function sampleServerCpu(postmasters: readonly number[]): ServerCpuSample | undefined {
  if (postmasters.length === 0) return undefined;
  const sample = new Map<number, number>();
  for (const pid of postmasters) {
    let children: string[];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      return undefined;
    }
    for (const p of [pid, ...children.map(Number)]) {
      const us = cpuMicros(p);
      if (us !== undefined) sample.set(p, us);
    }
  }
  return sample;
}

/**
 * The servers' CPU between two samples (µs): the database side of a round. Per process, so a
 * backend that exits in between (a pool closing an idle connection) takes only its own time
 * with it instead of making the sum go backwards; a process born in between counts whole.
 */
export function serverCpuBetween(before: ServerCpuSample, after: ServerCpuSample): number {
  let total = 0;
  for (const [pid, us] of after) total += Math.max(0, us - (before.get(pid) ?? 0));
  return total;
}

/** Starts a measure of the servers' CPU; calling what it returns ends it (µs). undefined where the servers are not local. */
export function serverCpuMeter(postmasters: readonly number[]): () => (() => number | undefined) | undefined {
  return () => {
    const before = sampleServerCpu(postmasters);
    return (
      before &&
      (() => {
        const after = sampleServerCpu(postmasters);
        return after && serverCpuBetween(before, after);
      })
    );
  };
}
