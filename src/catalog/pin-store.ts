import type { Transaction } from 'sequelize';
import type { CatalogDatabase } from './catalog-database.js';
import { pinFromRow, type PinRow } from './catalog-rows.js';
import { TURN_OVER_PLACEMENT } from './tenant-store.js';

const SET_PIN = `INSERT INTO pins (tenant_id, shard_id, reason) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET shard_id = EXCLUDED.shard_id, reason = EXCLUDED.reason`;
const DELETE_PIN = 'DELETE FROM pins WHERE tenant_id = $1';

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
   * to the shard at the same instant; a retried cutover changes nothing more.
   */
  async place(tenantId: string, shardId: string, pinReason: string | undefined): Promise<void> {
    // inside the tenant's write pause: one statement (data-modifying CTEs are atomic with the
    // version bump) rather than a transaction of five round trips
    if (pinReason === undefined) await this.db.execBumpingVersion(DELETE_PIN, [tenantId, shardId], TURN_OVER_PLACEMENT);
    else await this.db.execBumpingVersion(SET_PIN, [tenantId, shardId, pinReason], TURN_OVER_PLACEMENT);
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
