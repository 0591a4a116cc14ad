import type { Logger } from 'pino';
import type { ShardLatencies } from '../cluster/shard-latencies.js';
import type { StatementObserver } from '../cluster/statement-observer.js';
import { currentContext } from '../context/request-context.js';
import type { GatewayMetrics } from '../telemetry/gateway-metrics.js';

/** slow statements a request keeps for the slow-query log (a request that runs thousands keeps the first) */
const SLOW_PER_REQUEST = 8;

/** SQL for a log line: string literals masked, length bounded (values never reach logs). */
export function maskSql(sql: string): string {
  const masked = sql.replace(/^Executing \([^)]*\): /, '').replace(/'(?:[^']|'')*'/g, "'?'");
  return masked.length > 500 ? `${masked.slice(0, 500)}…` : masked;
}

export interface StatementWatchDeps {
  readonly metrics: GatewayMetrics;
  readonly latencies: ShardLatencies;
  readonly logger: Logger;
  readonly slowQueryMs: number;
}

/**
 * What happens as each statement of the fleet's pools ends: the duration histogram, the
 * shard's latency window (what a move's bulk work yields to), the request's database time
 * and rows (its tenant's usage), and the slow-query log — a slow statement of a request is
 * kept on it until the route that ran it is known, then goes to the slow-query list.
 */
export function statementWatch(deps: StatementWatchDeps): StatementObserver {
  const { metrics, latencies, logger, slowQueryMs } = deps;
  return (node, sql) => {
    const ctx = currentContext();
    return (ms, rows) => {
      metrics.dbDurationOf(node).observe(ms / 1000);
      latencies.record(node.shardId, ms);
      if (ctx) {
        ctx.dbMs = (ctx.dbMs ?? 0) + ms;
        ctx.rows = (ctx.rows ?? 0) + rows;
      }
      if (ms < slowQueryMs) return;
      metrics.slowQueries.inc({ shard: node.shardId, role: node.role });
      logger.warn({ shard: node.shardId, node: node.name, ms, sql: maskSql(sql) }, 'slow query');
      // the list keeps requests' statements (with tenant and route); background work's are logged and counted only
      if (ctx && (ctx.slow ??= []).length < SLOW_PER_REQUEST) ctx.slow.push({ at: Date.now(), shard: node.shardId, node: node.name, role: node.role, durationMs: ms, sql });
    };
  };
}
