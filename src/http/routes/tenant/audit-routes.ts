import express, { type Router } from 'express';
import type { AuditTrail } from '../../../data/audit/audit-trail.js';
import type { AuditedTable } from '../../../models/index.js';
import { auditList } from '../../input/audit-input.js';
import { pageUnlessCursor, parseSort } from '../../input/record-params.js';
import { parseInput } from '../../input/validation.js';
import { sessionOf } from '../../middleware/tenant-context.js';

/** /v1/audit: the tenant's trail, read-only. */
export function auditRoutes(trail: AuditTrail): Router {
  const router = express.Router();

  router.get('/', async (req, res) => {
    const q = parseInput(auditList, { ...req.query });
    res.json(
      await trail.list(sessionOf(res), {
        ...q,
        table: q.table as AuditedTable | undefined,
        recordId: q.recordId?.toLowerCase(),
        page: pageUnlessCursor(q),
        sort: parseSort<'createdAt'>(q.sort),
      }),
    );
  });

  return router;
}
