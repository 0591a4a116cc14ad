import type { ShardRow } from '../../catalog/catalog-rows.js';
import { adminPrimaryUrl } from '../../cluster/shard-registry.js';
import type { ShardStore } from '../../catalog/shard-store.js';
import { NotFoundError } from '../../errors/errors.js';
import type { ShardDirectory } from './shard-directory.js';

/** Shards as the catalog has them now, read for each move (a shard added a second ago included). */
export class CatalogShardDirectory implements ShardDirectory {
  constructor(private readonly shards: ShardStore) {}

  async shard(shardId: string): Promise<ShardRow> {
    const row = (await this.shards.list()).find((s) => s.id === shardId);
    if (!row) throw new NotFoundError('shard', shardId);
    return row;
  }

  /**
   * The privileged role's URL of the shard's primary: moves replicate, fence and verify with
   * it. It carries its own password (the target server opens the subscription's connection
   * itself and could not see this process's environment anyway).
   */
  async primaryUrl(shardId: string): Promise<string> {
    return adminPrimaryUrl(await this.shard(shardId));
  }
}
