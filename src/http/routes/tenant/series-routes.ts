import express, { type Router } from 'express';
import type { SeriesRepository } from '../../../data/series/series-repository.js';
import { NotFoundError } from '../../../errors/errors.js';
import { SERIES_NAME, parseSeriesBatch, seriesQuery } from '../../input/series-input.js';
import { parseInput } from '../../input/validation.js';
import { sessionOf } from '../../middleware/tenant-context.js';

/** /v1/series: batch ingest, the tenant's series, and one series bucketed. */
export function seriesRoutes(series: SeriesRepository): Router {
  const router = express.Router();

  router.post('/', async (req, res) => {
    res.json(await series.ingest(sessionOf(res), parseSeriesBatch(req.body)));
  });

  router.get('/', async (_req, res) => {
    res.json(await series.list(sessionOf(res)));
  });

  router.get('/:series', async (req, res) => {
    const name = String(req.params.series);
    // a malformed name names no series: the same 404 as an unknown one would be
    if (!SERIES_NAME.test(name)) throw new NotFoundError('series', name);
    const q = parseInput(seriesQuery, { ...req.query });
    res.json(await series.query(sessionOf(res), { series: name, from: q.from, to: q.to, stepMs: q.step.ms, step: q.step.text, agg: q.agg, labels: q.labels ?? {} }));
  });

  return router;
}
