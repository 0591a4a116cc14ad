import type { Transaction } from 'sequelize';
import type { CatalogDatabase } from './catalog-database.js';
import { pinFromRow, type PinRow, type ShardRow } from './catalog-rows.js';
import { turnOverPlacement } from './tenant-store.js';

const SET_PIN = `INSERT INTO pins (tenant_id, shard_id, reason) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET shard_id = EXCLUDED.shard_id, reason = EXCLUDED.reason`;
const DELETE_PIN = 'DELETE FROM pins WHERE tenant_id = $1';

/** The active shards, as the placement ring is built from them: what a pin decision depends on. */
const ACTIVE_RING = `(SELECT coalesce(string_agg(id || '@' || weight, ',' ORDER BY id COLLATE "C"), '') FROM shards WHERE state = 'active')`;
const RING_HOLDS = '(SELECT ok FROM ring_ok)';

/** $1 tenant, $2 shard, $3 pin reason (null: no pin), $4 the ring fingerprint the decision was made on. */
const PLACE = `WITH ring_ok AS (SELECT ${ACTIVE_RING} = $4 AS ok),
  pin_set AS (INSERT INTO pins (tenant_id, shard_id, reason) SELECT $1, $2, $3::text WHERE $3::text IS NOT NULL AND ${RING_HOLDS}
              ON CONFLICT (tenant_id) DO UPDATE SET shard_id = EXCLUDED.shard_id, reason = EXCLUDED.reason),
  pin_unset AS (DELETE FROM pins WHERE tenant_id = $1 AND $3::text IS NULL AND ${RING_HOLDS}),
  ${turnOverPlacement(RING_HOLDS).join(',\n  ')}
UPDATE catalog_meta SET version = version + 1 WHERE ${RING_HOLDS} RETURNING version::text AS version`;

/** The fingerprint PinStore.place compares with the catalog's active shards (ids and weights, in id order). */
export function ringFingerprint(shards: ReadonlyArray<Pick<ShardRow, 'id' | 'weight' | 'state'>>): string {
  // code-point order, as COLLATE "C" sorts
  const active = shards.filter((s) => s.state === 'active').sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return active.map((s) => `${s.id}@${s.weight}`).join(',');
}

/** Pins: placements that override the ring, one tenant each. Every change bumps the catalog version. */
export class PinStore {
  constructor(private readonly db: CatalogDatabase) {}

  async list(transaction?: Transaction): Promise<PinRow[]> {
    return (await this.db.select('SELECT tenant_id, shard_id, reason FROM pins', [], transaction)).map(pinFromRow);
  }

  async delete(tenantId: string): Promise<void> {
    await this.db.execBumpingVersion(DELETE_PIN, [tenantId]);
  }

  /**
   * A move's cutover: the tenant placed on the shard — pinned there with `pinReason`, or
   * unpinned where the ring puts it there already — and its placement history turned over
   * to the shard at the same instant; a retried cutover changes nothing more. `ring` is the
   * active shards as the caller decided on the pin (`ringFingerprint`, read before the
   * tenant's write pause): when they changed since, nothing is written and the answer is
   * undefined (decide again). Else the catalog version the change made.
   */
  async place(tenantId: string, shardId: string, pinReason: string | undefined, ring: string): Promise<bigint | undefined> {
    // inside the tenant's write pause: one statement, one round trip; data-modifying CTEs
    // all run to completion, so each one carries the ring guard itself
    const rows = await this.db.select(PLACE, [tenantId, shardId, pinReason ?? null, ring]);
    return rows.length === 0 ? undefined : BigInt(rows[0]!.version as string);
  }

  /**
   * A pin set inside the caller's transaction, which bumps the version once for all its
   * changes. A job's pins hold tenants where they already are: the placement history has
   * nothing to record.
   */
  async setIn(transaction: Transaction, pin: PinRow): Promise<void> {
    await this.db.exec(SET_PIN, [pin.tenantId, pin.shardId, pin.reason], transaction);
  }

  /** delete(), inside the caller's transaction (a stale hold where the ring places the tenant already: no placement change). */
  async deleteIn(transaction: Transaction, tenantId: string): Promise<void> {
    await this.db.exec(DELETE_PIN, [tenantId], transaction);
  }
}
