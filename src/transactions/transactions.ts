import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import type { ShardRegistry } from '../cluster/shard-registry.js';
import type { GatewayConfig } from '../config/gateway-config.js';
import type { ProductCache } from '../data/products/product-cache.js';
import type { TenantSessions } from '../data/tenant-sessions.js';
import { PreparedTransactions } from '../data/transfers/prepared-transactions.js';
import { TransferSteps } from '../data/transfers/transfer-steps.js';
import { Saga } from './saga.js';
import { StepRunner } from './step-runner.js';
import { TenantErase, type TenantEraseDeps } from './tenant-erase.js';
import { TransactionRecovery } from './transaction-recovery.js';
import { TransferCoordinator } from './transfer-coordinator.js';
import { TwoPhaseCommit, type TwoPhaseHooks } from './two-phase-commit.js';

export interface Transactions {
  readonly coordinator: TransferCoordinator;
  readonly recovery: TransactionRecovery;
}

/** Distributed transactions as the composition root wires them: one coordinator per pod, its recovery loop, both protocols. */
export function distributedTransactions(
  deps: {
    readonly catalog: Pick<Catalog, 'transactions' | 'partnerships' | 'tenants' | 'apiKeys' | 'pins' | 'jobs'>;
    /** an erase's deletes on every shard (the mover's privileged connections) */
    readonly rows: TenantEraseDeps['rows'];
    readonly cache: TenantEraseDeps['cache'];
    readonly keysRevoked: TenantEraseDeps['keysRevoked'];
    readonly sessions: TenantSessions;
    readonly registry: ShardRegistry;
    readonly products: Pick<ProductCache, 'invalidate'>;
    readonly logger: Logger;
    readonly twoPhaseHooks?: TwoPhaseHooks | undefined;
  },
  config: GatewayConfig['transactions'],
): Transactions {
  const owner = `gateway-${randomUUID()}`;
  const store = deps.catalog.transactions;
  const steps = new TransferSteps(deps.products);
  const prepared = new PreparedTransactions();
  const runner = new StepRunner({ sessions: deps.sessions, store, logger: deps.logger }, { owner, firstBackoffMs: 50, maxBackoffMs: 1000 });
  const coordinator = new TransferCoordinator(
    {
      store,
      partnerships: deps.catalog.partnerships,
      protocols: {
        saga: new Saga({ steps, runner, store }, owner),
        '2pc': new TwoPhaseCommit({ steps, runner, store, prepared, hooks: deps.twoPhaseHooks }, owner),
      },
      erase: new TenantErase(
        {
          tenants: deps.catalog.tenants, apiKeys: deps.catalog.apiKeys, partnerships: deps.catalog.partnerships, pins: deps.catalog.pins,
          moves: deps.catalog.jobs, rows: deps.rows, cache: deps.cache, keysRevoked: deps.keysRevoked, store, runner,
        },
        owner,
        config.leaseMs,
      ),
      logger: deps.logger,
    },
    { owner, leaseMs: config.leaseMs, requestWaitMs: config.requestWaitMs },
  );
  const recovery = new TransactionRecovery(
    { coordinator, store, prepared, registry: deps.registry, logger: deps.logger },
    { intervalMs: config.recoveryIntervalMs, orphanAfterMs: config.leaseMs, batch: 20 },
  );
  return { coordinator, recovery };
}
