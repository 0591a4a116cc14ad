import type { Row } from './catalog-database.js';

/** `erasing` and `erased`: DELETE /admin/tenants/:id is taking, or took, every row of the tenant (its keys revoked first) */
export type TenantStatus = 'active' | 'suspended' | 'erasing' | 'erased';
/** active: in the ring; standby: added, out of the ring until a rebalance; draining: tenants moving off; retired: empty */
export type ShardState = 'active' | 'standby' | 'draining' | 'retired';

export interface TenantRow {
  readonly id: string;
  readonly name: string;
  readonly status: TenantStatus;
  readonly plan: string;
}

/** One API key of a tenant (its hash only: the key itself is shown once, when made). */
export interface ApiKeyRow {
  readonly keyId: string;
  readonly tenantId: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
  readonly revokedAt: Date | null;
}

/** A shard's nodes as one role reaches them. */
export interface ShardEndpoints {
  readonly primary: string;
  readonly replicas: ReadonlyArray<string | { name: string; url: string }>;
}

/**
 * A shard: `primary` / `replicas` are the request role's URLs (the gateway serves tenants
 * with them), `admin` the privileged role's (moves, migrations, export and import); absent
 * where one role serves both.
 */
export interface ShardRow extends ShardEndpoints {
  readonly id: string;
  readonly weight: number;
  readonly state: ShardState;
  readonly admin?: ShardEndpoints | undefined;
}


export interface PinRow {
  readonly tenantId: string;
  readonly shardId: string;
  readonly reason: string;
}

export const tenantFromRow = (r: Row): TenantRow => ({
  id: r.id as string,
  name: r.name as string,
  status: r.status as TenantStatus,
  plan: r.plan as string,
});

export const apiKeyFromRow = (r: Row): ApiKeyRow => ({
  keyId: r.id as string,
  tenantId: r.tenant_id as string,
  createdAt: r.created_at as Date,
  lastUsedAt: (r.last_used_at as Date | null) ?? null,
  revokedAt: (r.revoked_at as Date | null) ?? null,
});

export const shardFromRow = (r: Row): ShardRow => ({
  id: r.id as string,
  primary: r.primary_url as string,
  replicas: r.replicas as ShardRow['replicas'],
  weight: r.weight as number,
  state: r.state as ShardState,
  ...(r.admin ? { admin: r.admin as ShardEndpoints } : {}),
});

export const pinFromRow = (r: Row): PinRow => ({ tenantId: r.tenant_id as string, shardId: r.shard_id as string, reason: r.reason as string });
