import type { Logger } from 'pino';
import type { ShardRow } from '../../catalog/catalog-rows.js';
import { adminPrimaryUrl } from '../../cluster/shard-registry.js';
import type { SchemaChange, SchemaChangeStore } from '../../catalog/schema-change-store.js';
import type { GatewayConfig } from '../../config/gateway-config.js';
import { ConflictError } from '../../errors/errors.js';
import type { PgTls } from '../../transport/pg-tls.js';
import type { Migration } from '../../../shards/migrations/migration.js';
import { planDdl } from '../ddl/plan-ddl.js';
import { fleetSchemaRollout, type SchemaRollout } from './schema-rollout.js';
import { ShardMigrationRunner } from '../shard-migration-runner.js';

/** The schema side of the fleet, wired once for the gateway and for `npm run migrate`. */
export interface FleetSchema {
  readonly runner: ShardMigrationRunner;
  readonly rollout: SchemaRollout;
}

export function fleetSchema(deps: {
  readonly config: Readonly<Pick<GatewayConfig, 'schemaChanges' | 'db' | 'moves'>>;
  readonly store: SchemaChangeStore;
  readonly shards: () => Promise<readonly ShardRow[]>;
  readonly tls: PgTls;
  readonly logger: Logger;
  readonly owner: string;
  /** the project's shard migrations, in order (the composition root passes them) */
  readonly migrations: readonly Migration[];
}): FleetSchema {
  const { config, tls } = deps;
  const runner = new ShardMigrationRunner(deps.migrations, {
    tls,
    connectTimeoutMs: config.db.connectTimeoutMs,
    lockTimeoutMs: config.schemaChanges.lockTimeoutMs,
    firstBackoffMs: 200,
    maxBackoffMs: 5000,
  });
  const rollout = fleetSchemaRollout(
    { store: deps.store, shards: deps.shards, plan: planDdl, tls, logger: deps.logger, migrations: runner },
    { owner: deps.owner, leaseMs: config.moves.leaseMs, connectTimeoutMs: config.db.connectTimeoutMs, ...config.schemaChanges },
  );
  return { runner, rollout };
}

/**
 * Rolls the project's pending shard migrations out to the fleet through the rollout engine
 * and waits for the end: what `npm run migrate` (the Kubernetes migration Job) and the
 * embedded default run. A change already rolling out is waited for first (and resumed here
 * if the gateway that ran it is gone); throws unless the migrations succeeded everywhere.
 */
export async function rollOutMigrations(rollout: SchemaRollout, logger: Logger): Promise<SchemaChange> {
  let change: SchemaChange | undefined;
  while (change === undefined) {
    try {
      change = await rollout.submitMigrations();
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      logger.info({ reason: err.message }, 'waiting for the schema change rolling out before the migrations');
      await rollout.scan();
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  logger.info({ change: change.id, what: change.ddl }, 'rolling out the shard migrations');
  const ended = await rollout.settled(change.id);
  if (ended.state !== 'succeeded') {
    const failed = ended.shards.find((s) => s.state === 'failed');
    throw new Error(`the shard migrations ${ended.state}${failed ? ` on ${failed.shard}: ${failed.error ?? ''}` : ended.error ? `: ${ended.error}` : ''}`);
  }
  return ended;
}

/** A gateway serves shards whose schema is behind its code (expand/contract keeps it working), and says so. */
export async function warnPendingMigrations(shards: readonly ShardRow[], runner: ShardMigrationRunner, logger: Logger): Promise<void> {
  for (const shard of shards) {
    if (shard.state === 'retired') continue;
    const pending = await runner.pending(adminPrimaryUrl(shard)).catch((err: unknown) => {
      logger.warn({ shard: shard.id, err: (err as Error).message }, 'could not read the shard’s applied migrations');
      return [];
    });
    if (pending.length > 0) {
      logger.warn({ shard: shard.id, pending }, 'the shard has not applied every migration of this gateway’s code: roll them out (npm run migrate, or POST /admin/schema-changes {"migrations": true})');
    }
  }
}
