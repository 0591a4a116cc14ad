/** Span attribute keys, named once (the contract's "Telemetry names"). */
export const Attr = {
  TenantId: 'gateway.tenant.id',
  ShardId: 'gateway.shard.id',
  DbRole: 'gateway.db.role',
  DbReplica: 'gateway.db.replica',
  RouteReason: 'gateway.route.reason',
  ErrorCode: 'gateway.error.code',
} as const;
