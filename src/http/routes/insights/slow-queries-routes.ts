import express, { type Router } from 'express';
import { z } from 'zod';
import { parseInput, queryInt } from '../../input/validation.js';
import type { SlowQueries } from '../../../insights/slow-queries.js';

const SLOW_QUERY = z.object({ limit: queryInt(1, 1000).default(50) }).strict();

export interface SlowQueriesRoutesDeps {
  readonly slowQueries: SlowQueries;
}

/** GET /admin/slow-queries: the fleet's recent slow statements, newest first, normalised, with their generic plans. */
export function slowQueriesRoutes(deps: SlowQueriesRoutesDeps): Router {
  const router = express.Router();
  router.get('/', async (req, res) => {
    const q = parseInput(SLOW_QUERY, req.query);
    const { queries, podOnly } = await deps.slowQueries.recent(q.limit);
    if (podOnly) res.setHeader('Shardgate-Usage-Partial', 'this pod only: Redis did not answer');
    res.json(queries);
  });
  return router;
}
