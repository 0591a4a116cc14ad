import { UniqueConstraintError, type Transaction } from 'sequelize';
import { ConflictError } from '../errors/errors.js';
import type { CatalogDatabase } from './catalog-database.js';
import { shardFromRow, type ShardEndpoints, type ShardRow, type ShardState } from './catalog-rows.js';
import { ShardSecretError, type ShardSecrets } from './shard-secrets.js';

const adminJson = (shard: Pick<ShardRow, 'admin'>): string | null => (shard.admin === undefined ? null : JSON.stringify(shard.admin));

const SET_STATE = 'UPDATE shards SET state = $2, updated_at = now() WHERE id = $1';

/**
 * Shards in the catalog: where each one's nodes are, its weight, and its state (ring
 * membership). Every change bumps the catalog version.
 */
export class ShardStore {
  constructor(
    private readonly db: CatalogDatabase,
    /** passwords in the rows: sealed or referenced when stored, usable when handed out */
    private readonly secrets: ShardSecrets,
  ) {}

  /** Every shard, with URLs to connect with. */
  async list(transaction?: Transaction): Promise<ShardRow[]> {
    return (await this.#stored(transaction)).map((row) => this.secrets.reveal(row));
  }

  async add(shard: ShardRow): Promise<ShardRow> {
    const stored = this.secrets.conceal(shard);
    try {
      return await this.db.transaction(async (transaction) => {
        const rows = await this.db.select(
          `INSERT INTO shards (id, primary_url, replicas, weight, state, admin) VALUES ($1, $2, $3::jsonb, $4, $5, $6::jsonb) RETURNING *`,
          [stored.id, stored.primary, JSON.stringify(stored.replicas), stored.weight, stored.state, adminJson(stored)],
          transaction,
        );
        await this.db.bumpVersion(transaction);
        return this.secrets.reveal(shardFromRow(rows[0]!));
      });
    } catch (err) {
      if (err instanceof UniqueConstraintError) throw new ConflictError(`Shard ${shard.id} already exists`, 'id');
      throw err;
    }
  }

  /**
   * The configured shards, the first time the catalog is used. After that the catalog is
   * the authority on the fleet, except for the credentials of the configured shards: a
   * configured shard whose nodes are the same (host, port, database of every URL) takes
   * the configured URLs, so a rotated password (or a `${env:NAME}` reference replacing a
   * stored one) reaches the catalog with the gateway's next start. `endpoints: 'always'`
   * takes the configured URLs whatever they point at (the embedded default's databases get
   * new ports on every start). Rows still holding a password in clear, or one sealed with
   * an older key, are sealed again under the current key.
   */
  async seed(configured: readonly ShardRow[], options: { endpoints?: 'same-nodes' | 'always' } = {}): Promise<void> {
    await this.db.transaction(async (transaction) => {
      const stored = await this.#stored(transaction);
      if (stored.length === 0) {
        for (const shard of configured.map((c) => this.secrets.conceal(c))) {
          await this.db.exec(
            `INSERT INTO shards (id, primary_url, replicas, weight, state, admin) VALUES ($1, $2, $3::jsonb, $4, $5, $6::jsonb)
             ON CONFLICT (id) DO NOTHING`,
            [shard.id, shard.primary, JSON.stringify(shard.replicas), shard.weight, shard.state, adminJson(shard)],
            transaction,
          );
        }
        await this.db.bumpVersion(transaction);
        return;
      }
      let changed = false;
      for (const row of stored) {
        // a row sealed under a key this gateway lacks does not open here; a configured shard's
        // row is then rewritten from the configuration, which is the authority on its credentials
        const current = this.#opened(row);
        const config = configured.find((c) => c.id === row.id);
        let next: Pick<ShardRow, 'id' | 'primary' | 'replicas' | 'admin'> | undefined;
        if (config !== undefined && (options.endpoints === 'always' || sameNodes(row, config))) {
          if (current === undefined || this.secrets.needsResealing(row) || !sameUrls(row, config, current, this.secrets.reveal(config))) next = config;
        } else if (current !== undefined && this.secrets.needsResealing(row)) next = current;
        if (next === undefined) continue;
        const sealed = this.secrets.conceal(next);
        await this.db.exec(
          'UPDATE shards SET primary_url = $2, replicas = $3::jsonb, admin = $4::jsonb, updated_at = now() WHERE id = $1',
          [row.id, sealed.primary, JSON.stringify(sealed.replicas), adminJson(sealed)],
          transaction,
        );
        changed = true;
      }
      if (changed) await this.db.bumpVersion(transaction);
    });
  }

  /** A shard's state (a drained shard is retired). */
  async setState(shardId: string, state: ShardState): Promise<void> {
    await this.db.transaction(async (transaction) => {
      await this.setStateIn(transaction, shardId, state);
      await this.db.bumpVersion(transaction);
    });
  }

  /** The row opened, or undefined when its sealed password does not open with this keyring. */
  #opened(row: ShardRow): ShardRow | undefined {
    try {
      return this.secrets.reveal(row);
    } catch (err) {
      if (err instanceof ShardSecretError) return undefined;
      throw err;
    }
  }

  /** The rows as stored: passwords sealed or referenced. */
  async #stored(transaction?: Transaction): Promise<ShardRow[]> {
    return (await this.db.select('SELECT * FROM shards ORDER BY id', [], transaction)).map(shardFromRow);
  }

  /** setState(), inside the caller's transaction, which bumps the version once for all its changes. */
  async setStateIn(transaction: Transaction, shardId: string, state: ShardState): Promise<void> {
    await this.db.exec(SET_STATE, [shardId, state], transaction);
  }
}

type Endpoints = Pick<ShardRow, 'primary' | 'replicas' | 'admin'>;

/** Every node of a shard, in order: its name (replicas may have one) and URL. */
function nodesOf(shard: Endpoints): Array<{ name: string; url: string }> {
  const of = (e: ShardEndpoints) => [{ name: '', url: e.primary }, ...e.replicas.map((r) => (typeof r === 'string' ? { name: '', url: r } : r))];
  return [...of(shard), ...(shard.admin === undefined ? [] : of(shard.admin))];
}

/** host, port and database: where a URL leads, whatever its credentials */
function whereTo(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port}${parsed.pathname}`;
  } catch {
    return url;
  }
}

/** Whether two shards' URLs reach the same servers and databases, whatever the credentials. */
function sameNodes(a: Endpoints, b: Endpoints): boolean {
  const [x, y] = [nodesOf(a), nodesOf(b)];
  return x.length === y.length && x.every((n, i) => n.name === y[i]!.name && whereTo(n.url) === whereTo(y[i]!.url));
}

/** Whether a stored row already says what the configuration says: references as written, the rest as opened. */
function sameUrls(stored: Endpoints, configured: Endpoints, storedOpened: Endpoints, configuredOpened: Endpoints): boolean {
  const refs = (s: Endpoints) => nodesOf(s).map((n) => (n.url.includes('${env:') ? n.url : ''));
  const [r1, r2, u1, u2] = [refs(stored), refs(configured), nodesOf(storedOpened), nodesOf(configuredOpened)];
  return r1.length === r2.length && r1.every((r, i) => r === r2[i]) && u1.every((n, i) => n.url === u2[i]!.url);
}
