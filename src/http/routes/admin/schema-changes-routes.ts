import express, { type Router } from 'express';
import { z } from 'zod';
import type { SchemaChange } from '../../../catalog/schema-change-store.js';
import type { SchemaRollout } from '../../../schema/rollout/schema-rollout.js';
import { recordId } from '../../input/record-params.js';
import { parseInput } from '../../input/validation.js';

export interface AdminSchemaChangesDeps {
  readonly schemaChanges: Pick<SchemaRollout, 'submit' | 'submitMigrations' | 'get' | 'cancel'> & { readonly store: { list(limit?: number): Promise<SchemaChange[]> } };
}

const submitInput = z
  .strictObject({
    ddl: z.string({ error: 'must be one DDL statement' }).min(1, 'must be one DDL statement').max(20_000, 'must be at most 20,000 characters').optional(),
    migrations: z.literal(true, { error: "must be true: it rolls out the project's pending shard migrations" }).optional(),
  })
  .refine((b) => (b.ddl === undefined) !== (b.migrations === undefined), { path: ['ddl'], message: 'send either ddl (one DDL statement) or migrations: true, not both' });

function view(c: SchemaChange): Record<string, unknown> {
  return {
    id: c.id,
    kind: c.kind,
    ddl: c.ddl,
    state: c.state,
    plan: c.plan.map((p) => (p.migration === undefined ? p.sql : `migration ${p.migration}`)),
    shards: c.shards.map((s) => ({
      id: s.shard,
      state: s.state,
      step: s.step,
      attempts: s.attempts,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      ...(s.progress ? { progress: s.progress } : {}),
      ...(s.error ? { error: s.error } : {}),
    })),
    ...(c.error ? { error: c.error } : {}),
    createdAt: c.createdAt,
    finishedAt: c.finishedAt,
  };
}

/** /admin/schema-changes: one DDL statement (checked and planned) or the project's pending migrations, rolled out shard by shard. */
export function adminSchemaChangesRoutes(deps: AdminSchemaChangesDeps): Router {
  const router = express.Router();
  router.post('/schema-changes', async (req, res) => {
    const { ddl } = parseInput(submitInput, req.body);
    const change = ddl === undefined ? await deps.schemaChanges.submitMigrations() : await deps.schemaChanges.submit(ddl);
    // the change is its own job: its id serves both
    res.status(202).json({ id: change.id, jobId: change.id });
  });
  router.get('/schema-changes', async (_req, res) => {
    res.json({ items: (await deps.schemaChanges.store.list()).map(view) });
  });
  router.get('/schema-changes/:id', async (req, res) => {
    res.json(view(await deps.schemaChanges.get(recordId(req, 'schema change'))));
  });
  router.post('/schema-changes/:id/cancel', async (req, res) => {
    res.json(view(await deps.schemaChanges.cancel(recordId(req, 'schema change'))));
  });
  return router;
}
