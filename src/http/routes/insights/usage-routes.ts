import express, { type Router } from 'express';
import { z } from 'zod';
import { parseInput, queryInt, queryValue } from '../../input/validation.js';
import { tenantParam } from '../../input/record-params.js';
import { NotFoundError, ValidationError } from '../../../errors/errors.js';
import type { TenantUsage } from '../../../insights/tenant-usage.js';
import { addCounts, parseDuration, rounded, topTenants, zeroCounts, type UsageMetric } from '../../../insights/usage-buckets.js';

const duration = queryValue.pipe(z.string().regex(/^\d{1,6}(s|m|h|d)$/, 'must be a duration such as 90s, 15m, 1h or 1d'));

const TOP_QUERY = z
  .object({
    by: queryValue.pipe(z.enum(['dbTime', 'requests', 'rows', 'errors'], { error: 'must be dbTime, requests, rows or errors' })).default('dbTime'),
    window: duration.default('15m'),
    limit: queryInt(1, 1000).default(20),
  })
  .strict();

const SERIES_QUERY = z.object({ window: duration.default('1h'), step: duration.default('1m') }).strict();

/** The most points a tenant's usage answers with. */
const MAX_POINTS = 1440;

export interface UsageRoutesDeps {
  readonly usage: TenantUsage;
  readonly tenantExists: (tenantId: string) => Promise<boolean>;
}

/** Says when the answer is this pod's alone: Redis, where every pod's counts meet, did not answer. */
function markPodOnly(res: express.Response, podOnly: boolean): void {
  if (podOnly) res.setHeader('Shardgate-Usage-Partial', 'this pod only: Redis did not answer');
}

/**
 * GET /admin/usage/top and GET /admin/tenants/:id/usage: tenant usage from every pod. A
 * window is at least one usage bucket and at most the retention; a step a whole number of
 * buckets.
 */
export function usageRoutes(deps: UsageRoutesDeps): Router {
  const router = express.Router();
  const { bucketMs, retentionMs } = deps.usage.options;
  const windowMs = (text: string, field: string): number => {
    const ms = parseDuration(text) ?? 0;
    if (ms < bucketMs || ms > retentionMs) throw new ValidationError(field, `${field}: must be between ${bucketMs / 1000}s (one usage bucket) and ${retentionMs / 1000}s (the retention)`);
    return ms;
  };

  router.get('/usage/top', async (req, res) => {
    const q = parseInput(TOP_QUERY, req.query);
    const ms = windowMs(q.window, 'window');
    const now = Date.now();
    const read = await deps.usage.read(now - ms + 1, now);
    markPodOnly(res, read.podOnly);
    const by: UsageMetric = q.by === 'dbTime' ? 'dbTimeMs' : q.by;
    res.json(topTenants(read.buckets, by, q.limit));
  });

  router.get('/tenants/:id/usage', async (req, res) => {
    const tenant = tenantParam(req);
    const q = parseInput(SERIES_QUERY, req.query);
    const ms = windowMs(q.window, 'window');
    const stepMs = parseDuration(q.step) ?? 0;
    if (stepMs < bucketMs || stepMs % bucketMs !== 0) throw new ValidationError('step', `step: must be a whole number of usage buckets (${bucketMs / 1000}s)`);
    if (ms / stepMs > MAX_POINTS) throw new ValidationError('step', `step: window/step must be at most ${MAX_POINTS} points`);
    if (!(await deps.tenantExists(tenant))) throw new NotFoundError('tenant', tenant);
    const now = Date.now();
    const lastStep = Math.floor(now / stepMs);
    const firstStep = lastStep - Math.ceil(ms / stepMs) + 1;
    const read = await deps.usage.read(firstStep * stepMs, now);
    markPodOnly(res, read.podOnly);
    const points = Array.from({ length: lastStep - firstStep + 1 }, (_, i) => ({ step: firstStep + i, counts: zeroCounts(), shard: null as string | null }));
    const totals = zeroCounts();
    for (const b of read.buckets) {
      const t = b.tenants.get(tenant);
      const point = points[Math.floor((b.bucket * bucketMs) / stepMs) - firstStep];
      if (!t || !point) continue;
      addCounts(point.counts, t.counts);
      addCounts(totals, t.counts);
      point.shard = t.shard;
    }
    res.json({
      tenant,
      window: q.window,
      stepMs,
      totals: rounded(totals),
      points: points.map((p) => ({ at: new Date(p.step * stepMs).toISOString(), shard: p.shard, ...rounded(p.counts) })),
    });
  });
  return router;
}
