import { UniqueConstraintError, type Transaction } from 'sequelize';
import { ConflictError, GatewayError } from '../errors/errors.js';
import type { CatalogDatabase } from './catalog-database.js';
import { tenantFromRow, type ShardRow, type ShardState, type TenantRow, type TenantStatus } from './catalog-rows.js';

/** A shard as the ring sees it. */
export type RingShard = Pick<ShardRow, 'id' | 'weight' | 'state'>;

/**
 * The ring requests are placed by, over the catalog's shards. The ring is placement's
 * (`src/placement/`): the catalog records where it puts a tenant, it does not hash.
 */
export type PlacementRing = (shards: readonly RingShard[]) => { get(tenantId: string): string | undefined };

/** One stretch of a tenant's placement history: on `shard` from `from` until `to` (null: still there). */
export interface PlacementSpan {
  readonly shard: string;
  readonly from: Date;
  readonly to: Date | null;
}

/** History times to the millisecond, what a JSON date holds: a boundary read from the admin API answers shardAt exactly. */
const NOW_MS = "date_trunc('milliseconds', now())";

/**
 * The tenant ($1) placed on a shard ($2) from now on: its open row closed and the next one
 * opened at the same instant, never before the row it closes began (a catalog clock that
 * stepped back). Nothing changes when the history has it there already: a cutover retried.
 * CTEs for the statement that changes the pin (`PinStore.place`), each acting only when `guard` holds.
 */
export function turnOverPlacement(guard = 'true'): string[] {
  return [
    `placement_closed AS (
       UPDATE tenant_placements SET to_at = greatest(${NOW_MS}, from_at + interval '1 millisecond')
        WHERE tenant_id = $1 AND to_at IS NULL AND shard_id <> $2 AND ${guard} RETURNING to_at)`,
    `placement_opened AS (
       INSERT INTO tenant_placements (tenant_id, shard_id, from_at)
       SELECT $1, $2, coalesce((SELECT to_at FROM placement_closed), ${NOW_MS})
        WHERE NOT EXISTS (SELECT 1 FROM tenant_placements WHERE tenant_id = $1 AND to_at IS NULL AND shard_id = $2) AND ${guard})`,
  ];
}

/** markErasure's ($1 tenant, $2 status): the last of the tenant's rows is gone once it is `erased`, and so is its placement. */
const CLOSE_PLACEMENT_IF_ERASED = `placement_closed AS (
  UPDATE tenant_placements SET to_at = greatest(${NOW_MS}, from_at) WHERE tenant_id = $1 AND to_at IS NULL AND $2 = 'erased')`;

/** Tenants recordUnplaced writes per statement: bounded by the catalog's statement timeout, however many tenants there are. */
const UNPLACED_BATCH = 5000;

/** Tenants in the catalog: who they are, their status, and where they lived when (their keys: `ApiKeyStore`). */
export class TenantStore {
  constructor(
    private readonly db: CatalogDatabase,
    private readonly ring: PlacementRing,
  ) {}

  /**
   * A tenant, its first API key, and the first row of its placement history, together;
   * returns the shard the ring places it on.
   */
  async create(tenant: { id: string; name: string; keyId: string; apiKeyHash: string }): Promise<{ tenant: TenantRow; shard: string }> {
    try {
      return await this.db.transaction(async (transaction) => {
        const rows = await this.db.select(
          `WITH t AS (INSERT INTO tenants (id, name) VALUES ($1, $2) RETURNING *),
                k AS (INSERT INTO api_keys (id, tenant_id, key_hash) SELECT $3, id, $4 FROM t)
           SELECT * FROM t`,
          [tenant.id, tenant.name, tenant.keyId, tenant.apiKeyHash],
          transaction,
        );
        // read after the insert: a job changing the ring holds tenants locked until it commits,
        // so this is the ring the tenant is placed by, not the one it replaced
        const shard = this.ring(await this.#ringShards(transaction)).get(tenant.id);
        if (shard === undefined) throw new GatewayError('SHARD_UNAVAILABLE', 'The ring has no shards', { retryAfterSeconds: 5 });
        await this.db.exec(`INSERT INTO tenant_placements (tenant_id, shard_id, from_at) VALUES ($1, $2, ${NOW_MS})`, [tenant.id, shard], transaction);
        return { tenant: tenantFromRow(rows[0]!), shard };
      });
    } catch (err) {
      if (err instanceof UniqueConstraintError) throw new ConflictError(`Tenant ${tenant.id} already exists`, 'id');
      throw err;
    }
  }

  async get(id: string): Promise<TenantRow | undefined> {
    const rows = await this.db.select('SELECT * FROM tenants WHERE id = $1', [id]);
    return rows[0] ? tenantFromRow(rows[0]) : undefined;
  }

  /**
   * An operator's status change (active, suspended); every gateway drops its cached keys of
   * the tenant (keys version). undefined when there is no such tenant, or it is being (or was) erased.
   */
  async setStatus(id: string, status: 'active' | 'suspended'): Promise<TenantRow | undefined> {
    const rows = await this.db.selectBumpingKeysVersion(
      `UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1 AND status IN ('active', 'suspended') RETURNING *`,
      [id, status],
    );
    return rows[0] ? tenantFromRow(rows[0]) : undefined;
  }

  /**
   * An erase's marks: `erasing` before its first row goes, `erased` after the last (which
   * closes its placement history); false when there is no such tenant.
   */
  async markErasure(id: string, status: Extract<TenantStatus, 'erasing' | 'erased'>): Promise<boolean> {
    // an erased tenant is never marked erasing again (a replayed step)
    const rows = await this.db.selectBumpingKeysVersion(
      `UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1 AND NOT (status = 'erased' AND $2 = 'erasing') RETURNING id`,
      [id, status],
      [CLOSE_PLACEMENT_IF_ERASED],
    );
    return rows.length > 0 || (await this.get(id)) !== undefined;
  }

  /** Every tenant id, in order; inside `transaction` when one is given (a job's plan). */
  async listIds(transaction?: Transaction): Promise<string[]> {
    const rows = await this.db.select('SELECT id FROM tenants ORDER BY id', [], transaction);
    return rows.map((r) => r.id as string);
  }

  /** The shard the tenant lived on at `at`; undefined before it was placed, after its erase, or where the history does not reach. */
  /** Tenants per shard now, from the open spans of the placement history (one index scan, not a walk of every tenant through the ring). */
  async countsByShard(): Promise<Map<string, number>> {
    const rows = await this.db.select('SELECT shard_id, count(*)::int AS n FROM tenant_placements WHERE to_at IS NULL GROUP BY shard_id');
    return new Map(rows.map((r) => [r.shard_id as string, r.n as number]));
  }

  async shardAt(tenantId: string, at: Date): Promise<string | undefined> {
    // the last row begun by then, if it had not ended yet: one backward step on the primary key
    const rows = await this.db.select(
      `SELECT shard_id FROM (SELECT shard_id, to_at FROM tenant_placements WHERE tenant_id = $1 AND from_at <= $2::timestamptz
                              ORDER BY from_at DESC LIMIT 1) AS last
        WHERE to_at IS NULL OR to_at > $2::timestamptz`,
      [tenantId, at],
    );
    return rows[0]?.shard_id as string | undefined;
  }

  /** Where the tenant lived, oldest first; the last span is open while it is placed. */
  async placementHistory(tenantId: string): Promise<PlacementSpan[]> {
    const rows = await this.db.select('SELECT shard_id, from_at, to_at FROM tenant_placements WHERE tenant_id = $1 ORDER BY from_at', [tenantId]);
    return rows.map((r) => ({ shard: r.shard_id as string, from: r.from_at as Date, to: (r.to_at as Date | null) ?? null }));
  }

  /**
   * An open row for every tenant (but erased ones) the history does not know: all of them
   * once migration 0009 has run, and any a gateway of an older version created since. Each
   * is recorded where the catalog places it now (its pin, else the ring), from its creation
   * — or, when it was moved before the history existed, from its last cutover's move
   * record: where it lived before that is unknown, and a restore is better told nothing than
   * a wrong shard. Returns the rows written; safe to run at every start, on several at once.
   */
  async recordUnplaced(): Promise<number> {
    const missing = await this.db.select(
      `SELECT id FROM tenants t WHERE status <> 'erased' AND NOT EXISTS (SELECT 1 FROM tenant_placements p WHERE p.tenant_id = t.id) ORDER BY id`,
    );
    if (missing.length === 0) return 0;
    const ring = this.ring(await this.#ringShards());
    let written = 0;
    for (let i = 0; i < missing.length; i += UNPLACED_BATCH) {
      const batch = missing.slice(i, i + UNPLACED_BATCH).map((r) => ({ id: r.id as string, ring: ring.get(r.id as string) ?? null }));
      // a move at cutover counts from when it got there: its pin may have flipped already
      written += await this.db.exec(
        `INSERT INTO tenant_placements (tenant_id, shard_id, from_at)
         SELECT t.id, coalesce(p.shard_id, u.ring),
                date_trunc('milliseconds', greatest(t.created_at, (SELECT max(coalesce(m.finished_at, m.updated_at)) FROM tenant_moves m
                                                                    WHERE m.tenant_id = t.id AND m.stage IN ('cutover', 'cleanup', 'done'))))
           FROM jsonb_to_recordset($1::jsonb) AS u (id text, ring text)
           JOIN tenants t ON t.id = u.id
           LEFT JOIN pins p ON p.tenant_id = t.id
          WHERE coalesce(p.shard_id, u.ring) IS NOT NULL
         ON CONFLICT DO NOTHING`,
        [JSON.stringify(batch)],
      );
    }
    return written;
  }

  async #ringShards(transaction?: Transaction): Promise<RingShard[]> {
    const rows = await this.db.select('SELECT id, weight, state FROM shards', [], transaction);
    return rows.map((r) => ({ id: r.id as string, weight: r.weight as number, state: r.state as ShardState }));
  }
}
