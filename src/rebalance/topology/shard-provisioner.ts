import type { ShardRow } from '../../catalog/catalog-rows.js';
import type { ShardStore } from '../../catalog/shard-store.js';
import type { ShardTopology } from '../../cluster/shard-registry.js';
import { ConflictError, ShardUnavailableError, ValidationError } from '../../errors/errors.js';
import type { PlacementAnnouncer } from '../placement-announcer.js';
import type { ShardMigrator } from '../shard-migrator.js';
import { withAdminClient, type AdminClientOptions } from '../shard-sql/admin-client.js';

export interface NewShard extends ShardTopology {
  readonly weight: number;
}

export interface ShardProvisionerDeps {
  readonly shards: ShardStore;
  readonly admin: AdminClientOptions;
  readonly migrator: ShardMigrator;
  readonly announcer: PlacementAnnouncer;
}

interface NodeFacts {
  readonly inRecovery: boolean;
  readonly walLevel: string;
  readonly version: number;
}

const replicaUrl = (r: ShardTopology['replicas'][number]) => (typeof r === 'string' ? r : r.url);

/**
 * POST /admin/shards: checks every node answers and is what it claims to be (a primary
 * with wal_level=logical on PostgreSQL 15+, replicas in recovery), migrates the primary,
 * then records the shard as standby: in the topology, out of the ring until a rebalance.
 */
export class ShardProvisioner {
  constructor(private readonly deps: ShardProvisionerDeps) {}

  async add(shard: NewShard): Promise<ShardRow> {
    if ((await this.deps.shards.list()).some((s) => s.id === shard.id)) throw new ConflictError(`Shard ${shard.id} already exists`, 'id');
    const primary = await this.#facts(shard.primary, 'primary');
    if (primary.inRecovery) throw new ValidationError('primary', 'primary: the server is a standby (in recovery), not a primary');
    if (primary.version < 150000) throw new ValidationError('primary', 'primary: tenant moves need PostgreSQL 15 or later');
    if (primary.walLevel !== 'logical') throw new ValidationError('primary', `primary: wal_level is ${primary.walLevel}; tenant moves need wal_level=logical`);
    for (const [i, replica] of shard.replicas.entries()) {
      const facts = await this.#facts(replicaUrl(replica), `replicas[${i}]`);
      if (!facts.inRecovery) throw new ValidationError(`replicas[${i}]`, `replicas[${i}]: the server is not a streaming replica (not in recovery)`);
    }
    try {
      await this.deps.migrator.migrate(shard);
    } catch (err) {
      await this.deps.migrator.forget(shard.id).catch(() => undefined);
      throw new ShardUnavailableError(shard.id, { cause: err });
    }
    let row: ShardRow;
    try {
      row = await this.deps.shards.add({ id: shard.id, primary: shard.primary, replicas: shard.replicas, weight: shard.weight, state: 'standby' });
    } catch (err) {
      await this.deps.migrator.forget(shard.id).catch(() => undefined);
      throw err;
    }
    await this.deps.announcer.announce([]);
    return row;
  }

  async #facts(url: string, field: string): Promise<NodeFacts> {
    try {
      return await withAdminClient(url, this.deps.admin, 'provision', async (client) => {
        const { rows } = await client.query<{ r: boolean; w: string; v: string }>(
          `SELECT pg_is_in_recovery() AS r, current_setting('wal_level') AS w, current_setting('server_version_num') AS v`,
        );
        return { inRecovery: rows[0]!.r, walLevel: rows[0]!.w, version: Number(rows[0]!.v) };
      });
    } catch (err) {
      throw new ValidationError(field, `${field}: cannot connect (${(err as Error).message})`);
    }
  }
}
