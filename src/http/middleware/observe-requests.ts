import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { GatewayMetrics } from '../../telemetry/gateway-metrics.js';
import { currentContext, type RequestContext } from '../../context/request-context.js';

/**
 * Per-request metrics, the access log, the server span's route, and `finished` (the tenant's usage). The route label is the
 * matched route template (`/v1/users/:id`), never the raw path, so label cardinality stays bounded.
 */
export function observeRequests(metrics: GatewayMetrics, logger: Logger, slowMs: number, finished?: (ctx: RequestContext, status: number) => void): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const routePath = (req.route as { path?: string } | undefined)?.path;
      const route = routePath === undefined ? 'unmatched' : `${req.baseUrl}${routePath === '/' ? '' : routePath}` || '/';
      const ctx = currentContext();
      // the server span is named by it when the response closes
      if (routePath !== undefined && ctx !== undefined) ctx.route = route;
      const shard = ctx?.shardId ?? 'none';
      metrics.httpDurationOf(route, res.statusCode, shard, req.method).observe(seconds);
      if (ctx !== undefined) finished?.(ctx, res.statusCode);
      const line = {
        requestId: ctx?.requestId,
        tenant: ctx?.tenantId,
        shard: ctx?.shardId,
        method: req.method,
        route,
        status: res.statusCode,
        ms: Math.round(seconds * 10_000) / 10,
      };
      // every request at debug; server errors and slow requests where operators look
      if (res.statusCode >= 500) logger.error(line, 'request failed');
      else if (seconds * 1000 >= slowMs) logger.warn(line, 'slow request');
      else logger.debug(line, 'request');
    });
    next();
  };
}
