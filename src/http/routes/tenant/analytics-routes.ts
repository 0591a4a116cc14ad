import express, { type Router } from 'express';
import type { AnalyticsRepository } from '../../../data/analytics/analytics-repository.js';
import { parseInput } from '../../input/validation.js';
import { sessionOf } from '../../middleware/tenant-context.js';
import { productRankingQuery, revenueByMonthQuery, topCustomersQuery } from '../../input/analytics-input.js';

/**
 * Read-only analytics of the tenant's confirmed orders. Like every read they go where the
 * session routes them: a fresh-enough replica, or the primary for `X-Consistency: strong`
 * and for consistency tokens the replicas have not reached yet.
 */
export function analyticsRoutes(analytics: AnalyticsRepository): Router {
  const router = express.Router();

  router.get('/top-customers', async (req, res) => {
    const q = parseInput(topCustomersQuery, { ...req.query });
    const items = await analytics.topCustomers(sessionOf(res), q);
    res.json({ limit: q.limit, minOrders: q.minOrders, items });
  });

  router.get('/revenue-by-month', async (req, res) => {
    const q = parseInput(revenueByMonthQuery, { ...req.query });
    const items = await analytics.revenueByMonth(sessionOf(res), q.year);
    res.json({ year: q.year, items });
  });

  router.get('/product-ranking', async (req, res) => {
    const q = parseInput(productRankingQuery, { ...req.query });
    const items = await analytics.productRanking(sessionOf(res), q);
    res.json({ limit: q.limit, categoryId: q.categoryId ?? null, items });
  });

  return router;
}
