import { spawn } from 'node:child_process';
import path from 'node:path';

export interface PgToolsOptions {
  /** where pg_basebackup, pg_ctl, postgres and pg_archivecleanup are */
  readonly binDir: string;
  /** the OS user the tools run as when this process is root: PostgreSQL refuses to run as root */
  readonly osUser: string;
}

/** A tool that exited non-zero (or was killed): its stderr names the cause. */
export class PgToolError extends Error {
  constructor(
    readonly tool: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${tool} failed (${code === null ? 'killed' : `exit ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' / ') || 'no output'}`);
  }
}

/**
 * PostgreSQL's own programs, and the file commands that must keep their files owned by the
 * server's user (a data directory it does not own will not start), run as that user when
 * the gateway is root (`runuser`), else as ourselves. Arguments go as an argv, never
 * through a shell.
 */
export class PgTools {
  constructor(private readonly options: PgToolsOptions) {}

  /** Runs `<binDir>/<tool> args…`; resolves with its stdout, rejects with a PgToolError. */
  async pg(tool: string, args: readonly string[], timeoutMs = 600_000): Promise<string> {
    return this.command(path.join(this.options.binDir, tool), args, timeoutMs);
  }

  /** Runs any program (cp, rm, du) as the server's user. */
  async command(program: string, args: readonly string[], timeoutMs = 600_000): Promise<string> {
    const asRoot = process.getuid?.() === 0;
    const [file, argv] = asRoot ? ['runuser', ['-u', this.options.osUser, '--', program, ...args]] : [program, [...args]];
    return new Promise((resolve, reject) => {
      const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8192)));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new PgToolError(path.basename(program), null, err.message));
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(stdout);
        else reject(new PgToolError(path.basename(program), code, stderr));
      });
    });
  }
}
