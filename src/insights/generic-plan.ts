import type { ShardNode } from '../cluster/shard-node.js';
import { scopeStatement } from '../cluster/tenant-scoped-query.js';

/** The longest plan text kept: a plan over many partitions runs to pages. */
const MAX_PLAN_CHARS = 8000;
const NAME = 'shardgate_explain_generic';

/** How many parameters a statement takes: its highest `$n`. */
export function parameterCount(sql: string): number {
  let max = 0;
  for (const m of sql.matchAll(/\$(\d+)/g)) max = Math.max(max, Number(m[1]));
  return max;
}

/**
 * The generic plan of a normalised statement (constants as `$n`) on `node`: PREPAREd and
 * EXPLAINed with `plan_cache_mode = force_generic_plan`, every parameter NULL — a generic
 * plan does not depend on them — so the plan shows `$n` where a value would be and no
 * value can reach it (PostgreSQL 16's EXPLAIN (GENERIC_PLAN) does the same in one step).
 * EXPLAIN without ANALYZE runs nothing; the transaction is rolled back, under the tenant's
 * row-level security scope (its policy is part of the plan) and a statement timeout.
 */
export async function genericPlan(node: ShardNode, normalized: string, tenantId: string | undefined, timeoutMs: number): Promise<string> {
  const params = parameterCount(normalized);
  return node.withConnection(async (query) => {
    try {
      await query('BEGIN');
      await query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
      await query('SET LOCAL plan_cache_mode = force_generic_plan');
      if (tenantId !== undefined) {
        const scope = scopeStatement({ tenantId, role: node.requestRole });
        await query(scope.text, scope.values);
      }
      await query(`PREPARE ${NAME} AS ${normalized}`);
      const args = params === 0 ? '' : `(${Array.from({ length: params }, () => 'NULL').join(', ')})`;
      const rows = await query<{ 'QUERY PLAN': string }>(`EXPLAIN (FORMAT TEXT) EXECUTE ${NAME}${args}`);
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      return plan.length > MAX_PLAN_CHARS ? `${plan.slice(0, MAX_PLAN_CHARS)}\n…` : plan;
    } finally {
      await query('ROLLBACK').catch(() => undefined);
      // a prepared statement outlives the transaction that made it (none there when PREPARE failed)
      await query(`DEALLOCATE ${NAME}`).catch(() => undefined);
    }
  });
}
