import type { TenantStore } from '../../catalog/tenant-store.js';
import type { PlacementService } from '../../placement/placement-service.js';
import { ConflictError, GatewayError, NotFoundError, ShardUnavailableError, TenantFencedError } from '../../errors/errors.js';
import { adminPrimaryUrl } from '../../cluster/shard-registry.js';
import { withAdminClient, type AdminClientOptions } from '../shard-sql/admin-client.js';
import { FenceHold, unfence } from '../shard-sql/fence.js';
import { tlsFailureReason } from '../../transport/connect-failure.js';
import { exportTenant } from './tenant-export.js';
import { importTenant, type ImportOptions } from './tenant-import.js';
import { eraseTenantRows } from './tenant-erase.js';

/** A driver error as the admin API answers it: fenced → 503, unreachable → 503, else as is. */
function translate(err: unknown, shardId: string): unknown {
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: unknown }).code;
  if (code === 'SG001') return new TenantFencedError(shardId, { cause: err });
  if (
    (typeof code === 'string' && (code.startsWith('08') || code === 'ECONNREFUSED' || code === '57P01')) ||
    /timeout|terminated/i.test((err as Error).message ?? '') ||
    // a failed TLS handshake: the shard is unreachable to us, its certificate stays out of the answer
    tlsFailureReason(err) !== undefined
  ) {
    return new ShardUnavailableError(shardId, { cause: err });
  }
  return err;
}

/** Export and import of one tenant's rows, on whichever shard the tenant is placed now; and their erasure from every shard. */
export class TenantTransfer {
  constructor(
    private readonly tenants: TenantStore,
    private readonly placement: PlacementService,
    private readonly admin: AdminClientOptions,
  ) {}

  async #shard(tenantId: string): Promise<{ id: string; url: string }> {
    if (!(await this.tenants.get(tenantId))) throw new NotFoundError('tenant', tenantId);
    const id = this.placement.table.shardFor(tenantId).shardId;
    const row = this.placement.shards.find((s) => s.id === id);
    if (!row) throw new ShardUnavailableError(id);
    return { id, url: adminPrimaryUrl(row) };
  }

  /** Resolves the shard first (so a 404 can still be answered), then streams. */
  async export(tenantId: string): Promise<(write: (line: string) => Promise<void> | void) => Promise<number>> {
    const shard = await this.#shard(tenantId);
    return async (write) => {
      try {
        return await exportTenant(shard.url, this.admin, tenantId, write);
      } catch (err) {
        throw translate(err, shard.id);
      }
    };
  }

  async import(tenantId: string, lines: AsyncIterable<string>, how: ImportOptions): Promise<{ shard: string; rows: Record<string, number> }> {
    const shard = await this.#shard(tenantId);
    try {
      return { shard: shard.id, rows: await importTenant(shard.url, this.admin, tenantId, lines, how) };
    } catch (err) {
      throw translate(err, shard.id);
    }
  }

  /**
   * Replaces the tenant's rows behind the write fence, as a move's cutover does: its writes
   * are refused (503, retried by the gateway) from the moment in-flight ones finish until
   * the new rows are committed, so none lands between the delete and the insert. The fence
   * row outlives a crash: a resumed run places it again (same id), imports, and lifts it.
   */
  async replaceFenced(
    tenantId: string,
    fenceId: string,
    lines: AsyncIterable<string>,
    options: { readonly fenceTimeoutMs: number; readonly audit?: ImportOptions['audit'] },
  ): Promise<{ shard: string; rows: Record<string, number> }> {
    const shard = await this.#shard(tenantId);
    try {
      // a fence of another owner (a move's) is never taken over: lifting ours would lift theirs
      const other = await withAdminClient(shard.url, this.admin, 'fence-check', async (client) =>
        (await client.query<{ owner: string }>('SELECT move_id::text AS owner FROM tenant_fences WHERE tenant_id = $1', [tenantId])).rows[0]?.owner,
      );
      if (other !== undefined && other !== fenceId) throw new ConflictError(`tenant ${tenantId} is fenced by move ${other} on ${shard.id}: restore it in place once the move has ended`);
      const placed = await FenceHold.place(shard.url, this.admin, tenantId, fenceId, options.fenceTimeoutMs);
      try {
        const rows = await importTenant(shard.url, this.admin, tenantId, lines, { replace: true, bypassFence: true, ...(options.audit ? { audit: options.audit } : {}) });
        await withAdminClient(shard.url, this.admin, 'unfence', (client) => unfence(client, tenantId, fenceId));
        return { shard: shard.id, rows };
      } finally {
        await placed.hold.release();
      }
    } catch (err) {
      throw translate(err, shard.id);
    }
  }

  /** The shards an erase sweeps: every one the gateway knows but retired ones (a move's leftovers may sit on any). */
  shardIds(): string[] {
    return this.placement.shards.filter((s) => s.state !== 'retired').map((s) => s.id);
  }

  /** Deletes every row of the tenant on one shard (committed batches; safe to run again). */
  async eraseRows(shardId: string, tenantId: string): Promise<number> {
    const row = this.placement.shards.find((s) => s.id === shardId);
    if (!row) throw new ShardUnavailableError(shardId);
    try {
      return await eraseTenantRows(adminPrimaryUrl(row), this.admin, tenantId);
    } catch (err) {
      throw translate(err, shardId);
    }
  }
}
