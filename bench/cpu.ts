import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

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
