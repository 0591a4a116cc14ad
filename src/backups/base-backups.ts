import path from 'node:path';
import type { BackupRecord, BackupStore } from '../catalog/backup-store.js';
import { adminPrimaryUrl, type ShardTopology } from '../cluster/shard-registry.js';
import { uuidv7 } from '../models/index.js';
import { withAdminClient, type AdminClientOptions } from '../rebalance/shard-sql/admin-client.js';
import type { PgTools } from './pg-tools.js';

export interface BaseBackupsOptions {
  /** where base backups go: `<dir>/<shard>/<backup id>/` */
  readonly dir: string;
  /** each shard's WAL archive: `<archiveDir>/<shard>/` */
  readonly archiveDir: string;
  /** finished backups kept per shard */
  readonly keep: number;
}

/** The span of moments a shard can be restored to: from its oldest backup's end to now. */
export interface RestorableWindow {
  readonly shard: string;
  /** null: no finished backup yet, nothing is restorable */
  readonly from: string | null;
  readonly to: string;
}

const START_WAL = /^START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)$/m;

/**
 * Base backups of shard primaries with `pg_basebackup` (the privileged role's URL: it has
 * REPLICATION), each a plain copy of the data directory with the WAL it needs streamed in,
 * so it is consistent on its own; with the shard's WAL archive it restores to any later
 * moment. Keeps `keep` per shard: older ones are removed with the archived WAL only they
 * needed (`pg_archivecleanup` up to the oldest kept backup's first segment).
 */
export class BaseBackups {
  constructor(
    private readonly store: BackupStore,
    private readonly tools: PgTools,
    /** the privileged role's connections (the shard's clock is read over one) */
    private readonly admin: AdminClientOptions,
    private readonly options: BaseBackupsOptions,
  ) {}

  /** One shard's base backup, recorded before it starts (a crash leaves a 'running' row to clear). */
  async take(shard: Pick<ShardTopology, 'id' | 'primary' | 'admin'>, runId: string | null): Promise<BackupRecord> {
    const id = uuidv7();
    const location = path.join(this.options.dir, shard.id, id);
    await this.store.beginBackup(id, runId, shard.id, location);
    try {
      await this.tools.command('mkdir', ['-p', path.dirname(location)]);
      const url = adminPrimaryUrl(shard);
      await this.tools.pg('pg_basebackup', ['-d', url, '-D', location, '-c', 'fast', '-X', 'stream', '--no-sync', '-l', `shardgate ${id}`]);
      const label = await this.tools.command('cat', [path.join(location, 'backup_label')]);
      const walFrom = START_WAL.exec(label)?.[1];
      if (walFrom === undefined) throw new Error(`${location}/backup_label names no start WAL segment`);
      const sizeBytes = Number((await this.tools.command('du', ['-sb', location])).split(/\s/)[0]);
      // the shard's clock, which recovery_target_time is compared with, read after the backup ended
      const consistentAt = await this.#shardNow(url);
      await this.store.endBackup(id, { consistentAt, walFrom, sizeBytes });
    } catch (err) {
      await this.store.endBackup(id, { error: (err as Error).message }).catch(() => undefined);
      await this.tools.command('rm', ['-rf', location]).catch(() => undefined);
      throw err;
    }
    await this.prune(shard.id);
    return (await this.store.list({ shard: shard.id, states: ['done'] })).find((b) => b.id === id)!;
  }

  /** Clears what a backup a crash interrupted left: its row failed, its files gone. */
  async clearInterrupted(runId: string): Promise<void> {
    for (const backup of await this.store.list({ runId, states: ['running'] })) {
      await this.tools.command('rm', ['-rf', backup.location]).catch(() => undefined);
      await this.store.endBackup(backup.id, { error: 'interrupted: the gateway running it stopped' });
    }
  }

  /** Drops finished backups beyond `keep` and the archived WAL older than the oldest kept one needs. */
  async prune(shard: string): Promise<void> {
    const done = await this.store.list({ shard, states: ['done'] });
    for (const old of done.slice(this.options.keep)) {
      await this.tools.command('rm', ['-rf', old.location]);
      await this.store.markDeleted(old.id);
    }
    const oldest = done.slice(0, this.options.keep).at(-1);
    if (oldest?.walFrom) await this.tools.pg('pg_archivecleanup', [path.join(this.options.archiveDir, shard), oldest.walFrom]);
  }

  async window(shard: string): Promise<RestorableWindow> {
    const done = await this.store.list({ shard, states: ['done'] });
    return { shard, from: done.at(-1)?.consistentAt ?? null, to: new Date().toISOString() };
  }

  async #shardNow(url: string): Promise<Date> {
    return withAdminClient(url, this.admin, 'backup', async (client) => (await client.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]!.now);
  }
}
