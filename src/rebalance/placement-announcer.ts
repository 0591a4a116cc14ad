/** What rebalancing needs told after it changes placement in the catalog (the gateway's implementation: placement/). */
export interface PlacementAnnouncer {
  /** reloads this gateway's placement, tells every other gateway, drops the tenants' cached reads */
  announce(tenantIds: readonly string[]): Promise<void>;
}
