import { withAdminClient, type AdminClientOptions } from '../shard-sql/admin-client.js';
import { deleteTenantRows } from '../shard-sql/tenant-rows.js';
import { tenantTables } from '../shard-sql/tenant-tables.js';

/**
 * Every row of a tenant on one shard, gone: each tenant table found in the system catalogs
 * (tables later migrations add included), children before parents, in committed batches
 * past the move fence (an erased tenant's rows are nobody's), then any fence tombstone a
 * move left. Safe to run again: a crash halfway leaves fewer rows for the next run.
 */
export async function eraseTenantRows(url: string, options: AdminClientOptions, tenantId: string): Promise<number> {
  return withAdminClient(url, options, 'erase', async (client) => {
    const deleted = await deleteTenantRows(client, tenantId, await tenantTables(client));
    await client.query('DELETE FROM tenant_fences WHERE tenant_id = $1', [tenantId]);
    return deleted;
  });
}
