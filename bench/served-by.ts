/** Statements the gateway ran on each node role so far, from its Prometheus metrics (admin port). */
export async function statementsByRole(adminUrl: string): Promise<{ primary: number; replica: number }> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const out = { primary: 0, replica: 0 };
  for (const line of text.split('\n')) {
    const m = /^shardgate_db_query_duration_seconds_count\{([^}]*)\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/.exec(line);
    if (!m) continue;
    const role = /role="(primary|replica)"/.exec(m[1]!)?.[1] as 'primary' | 'replica' | undefined;
    if (role) out[role] += Number(m[2]);
  }
  return out;
}

/**
 * Counts, around a round of load, the share of the gateway's statements replicas answered:
 * read from its metrics rather than response headers, so the gateway runs as production
 * does (routing headers off). A point read is one statement; nothing else of the gateway
 * runs statements on shard nodes during a read-only round (health probes use connections
 * of their own and are not observed).
 */
export async function replicaShare(adminUrl: string, round: () => Promise<void>): Promise<number> {
  const before = await statementsByRole(adminUrl);
  await round();
  const after = await statementsByRole(adminUrl);
  const replica = after.replica - before.replica;
  const all = replica + after.primary - before.primary;
  return all === 0 ? 0 : replica / all;
}
