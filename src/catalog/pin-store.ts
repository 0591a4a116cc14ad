import type { Transaction } from 'sequelize';
import type { CatalogDatabase } from './catalog-database.js';
import { pinFromRow, type PinRow } from './catalog-rows.js';

const SET_PIN = `INSERT INTO pins (tenant_id, shard_id, reason) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET shard_id = EXCLUDED.shard_id, reason = EXCLUDED.reason`;
const DELETE_PIN = 'DELETE FROM pins WHERE tenant_id = $1';

/** Pins: placements that override the ring, one tenant each. Every change bumps the catalog version. */
export class PinStore {
  constructor(private readonly db: CatalogDatabase) {}

  async list(transaction?: Transaction): Promise<PinRow[]> {
    return (await this.db.select('SELECT tenant_id, shard_id, reason FROM pins', [], transaction)).map(pinFromRow);
  }

  // pins change at every move's cutover, inside the tenant's write pause: one statement
  // (a data-modifying CTE is atomic with the version bump) rather than a four-trip transaction

  async set(pin: PinRow): Promise<void> {
    await this.db.execBumpingVersion(SET_PIN, [pin.tenantId, pin.shardId, pin.reason]);
  }

  async delete(tenantId: string): Promise<void> {
    await this.db.execBumpingVersion(DELETE_PIN, [tenantId]);
  }

  /** set(), inside the caller's transaction, which bumps the version once for all its changes. */
  async setIn(transaction: Transaction, pin: PinRow): Promise<void> {
    await this.db.exec(SET_PIN, [pin.tenantId, pin.shardId, pin.reason], transaction);
  }

  /** delete(), inside the caller's transaction, which bumps the version once for all its changes. */
  async deleteIn(transaction: Transaction, tenantId: string): Promise<void> {
    await this.db.exec(DELETE_PIN, [tenantId], transaction);
  }
}
