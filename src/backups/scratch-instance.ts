import { appendFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import type { PgTools } from './pg-tools.js';

export interface ScratchTarget {
  /** the base backup's data directory */
  readonly backup: string;
  /** the shard's WAL archive */
  readonly archive: string;
  /** the moment to recover to (the server's clock: recovery_target_time) */
  readonly at: Date;
}

/** A scratch server that recovered to a moment; `url` reaches it as its superuser. */
export interface RunningScratch {
  readonly dir: string;
  readonly url: string;
}

/** A free loopback port, as the kernel hands one out (closed again before the server binds it). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A setting's value as postgresql.conf quotes it. */
const quoted = (value: string) => `'${value.replaceAll("'", "''")}'`;

/**
 * A throwaway PostgreSQL server recovered from a base backup and the shard's WAL archive to
 * one moment (`recovery_target_time`, then promoted), reachable on a loopback port of its
 * own; it never archives (its WAL must not reach the shard's archive) and is removed,
 * files and all, by `remove` — also when a restore that made it crashed and another
 * gateway resumes it (`remove` on the same directory).
 */
export class ScratchInstance {
  constructor(
    private readonly tools: PgTools,
    private readonly options: { readonly connectTimeoutMs: number; readonly recoveryTimeoutMs: number },
  ) {}

  async start(dir: string, target: ScratchTarget): Promise<RunningScratch> {
    await this.remove(dir);
    await this.tools.command('mkdir', ['-p', path.dirname(dir)]);
    await this.tools.command('cp', ['-a', target.backup, dir]);
    await this.tools.command('chmod', ['0700', dir]);
    const port = await freePort();
    // read after postgresql.conf (and the shard's settings it includes): these win
    await appendFile(
      path.join(dir, 'postgresql.auto.conf'),
      [
        '',
        '# a scratch recovery for a tenant restore (src/backups/scratch-instance.ts)',
        `port = ${port}`,
        `listen_addresses = '127.0.0.1'`,
        `unix_socket_directories = ${quoted(dir)}`,
        `cluster_name = 'shardgate-restore'`,
        `archive_mode = off`,
        `restore_command = ${quoted(`cp "${target.archive}/%f" "%p"`)}`,
        `recovery_target_time = ${quoted(target.at.toISOString().replace('T', ' ').replace('Z', '+00'))}`,
        `recovery_target_action = 'promote'`,
        `recovery_target_inclusive = true`,
        // connections, prepared transactions, workers stay the shard's: recovery refuses fewer than the primary had
        `hot_standby = on`,
        `shared_buffers = 16MB`,
        '',
      ].join('\n'),
    );
    await writeFile(path.join(dir, 'recovery.signal'), '');
    await this.tools.command('chown', ['--reference', path.join(dir, 'PG_VERSION'), path.join(dir, 'recovery.signal'), path.join(dir, 'postgresql.auto.conf')]).catch(() => undefined);
    try {
      await this.tools.pg('pg_ctl', ['-D', dir, '-l', path.join(dir, 'recovery.log'), '-w', '-t', String(Math.ceil(this.options.recoveryTimeoutMs / 1000)), '-s', 'start']);
    } catch (err) {
      throw new Error(`the scratch server did not start: ${await this.#logTail(dir)}`, { cause: err });
    }
    const url = `postgres://postgres@127.0.0.1:${port}/shardgate`;
    await this.#promoted(url, dir);
    return { dir, url };
  }

  /** Stops the scratch server if it runs, and deletes its files. */
  async remove(dir: string): Promise<void> {
    await this.tools.pg('pg_ctl', ['-D', dir, '-m', 'immediate', '-s', 'stop']).catch(() => undefined);
    await this.tools.command('rm', ['-rf', dir]);
  }

  /** Waits until recovery reached its target and the server promoted itself. */
  async #promoted(url: string, dir: string): Promise<void> {
    const until = performance.now() + this.options.recoveryTimeoutMs;
    for (;;) {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: this.options.connectTimeoutMs, application_name: 'shardgate:restore' });
      client.on('error', () => undefined);
      try {
        await client.connect();
        const { rows } = await client.query<{ recovering: boolean }>('SELECT pg_is_in_recovery() AS recovering');
        if (!rows[0]!.recovering) return;
      } catch {
        // not accepting connections yet, or it stopped (a target past the archived WAL ends recovery with FATAL)
        const running = await this.tools.pg('pg_ctl', ['-D', dir, 'status']).then(() => true, () => false);
        if (!running) throw new Error(`the scratch server stopped during recovery: ${await this.#logTail(dir)}`);
      } finally {
        await client.end().catch(() => undefined);
      }
      if (performance.now() > until) throw new Error(`the scratch server did not finish recovery in time: ${await this.#logTail(dir)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async #logTail(dir: string): Promise<string> {
    const log = await this.tools.command('tail', ['-n', '30', path.join(dir, 'recovery.log')]).catch(() => '');
    const lines = log.trim().split('\n');
    const fatal = lines.filter((l) => /FATAL|ERROR|DETAIL|HINT/.test(l));
    return (fatal.length > 0 ? fatal : lines.slice(-5)).join(' / ') || 'no log';
  }
}
