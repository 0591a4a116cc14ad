import express, { type Router } from 'express';
import { z } from 'zod';
import type { Logger } from 'pino';
import { parseInput, queryInt, queryValue } from '../../input/validation.js';
import { NotFoundError } from '../../../errors/errors.js';
import type { QueryStats } from '../../../insights/query-stats.js';

const QUERY_STATS_QUERY = z
  .object({
    top: queryInt(1, 500).default(20),
    sort: queryValue.pipe(z.enum(['totalTime', 'meanTime', 'calls'], { error: 'must be totalTime, meanTime or calls' })).default('totalTime'),
    shard: queryValue.pipe(z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters')).optional(),
  })
  .strict();

export interface QueryStatsRoutesDeps {
  readonly queryStats: QueryStats;
  readonly logger: Logger;
}

/**
 * GET /admin/query-stats: the statements that cost the fleet most, merged across shards.
 * Shards that could not answer are named in `Shardgate-Stats-Unavailable` (the body stays
 * the contract's array) and logged with why.
 */
export function queryStatsRoutes(deps: QueryStatsRoutesDeps): Router {
  const router = express.Router();
  router.get('/', async (req, res) => {
    const q = parseInput(QUERY_STATS_QUERY, req.query);
    if (q.shard !== undefined && !deps.queryStats.knows(q.shard)) throw new NotFoundError('shard', q.shard);
    const report = await deps.queryStats.report(q);
    if (report.unavailable.length > 0) {
      res.setHeader('Shardgate-Stats-Unavailable', report.unavailable.map((u) => u.id).join(', '));
      deps.logger.debug({ unavailable: report.unavailable }, 'query stats: shards without statistics');
    }
    res.json(report.statements);
  });
  return router;
}
