import type { ShardRow } from '../../catalog/catalog-rows.js';
import type { ShardStore } from '../../catalog/shard-store.js';
import { NotFoundError } from '../../errors/errors.js';
import type { ShardDirectory } from './shard-directory.js';

/** The URL with the password filled in when it has none and one is known. */
export function withPassword(url: string, password: string | undefined): string {
  if (!password) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password) return url;
    parsed.password = password;
    return parsed.toString();
  } catch {
    return url;
  }
}

/** Shards as the catalog has them now, read for each move (a shard added a second ago included). */
export class CatalogShardDirectory implements ShardDirectory {
  constructor(
    private readonly shards: ShardStore,
    /**
     * Password for shard URLs that carry none (Kubernetes keeps it in PGPASSWORD). The
     * target server opens the subscription's connection itself and cannot see this process's
     * environment, so the conninfo it gets must hold the password.
     */
    private readonly shardPassword: string | undefined,
  ) {}

  async shard(shardId: string): Promise<ShardRow> {
    const row = (await this.shards.list()).find((s) => s.id === shardId);
    if (!row) throw new NotFoundError('shard', shardId);
    return row;
  }

  async primaryUrl(shardId: string): Promise<string> {
    return withPassword((await this.shard(shardId)).primary, this.shardPassword);
  }
}
