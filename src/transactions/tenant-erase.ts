import type { ApiKeyStore } from '../catalog/api-key-store.js';
import type { JobStore } from '../catalog/job-store.js';
import type { PartnershipStore } from '../catalog/partnership-store.js';
import type { PinStore } from '../catalog/pin-store.js';
import type { TenantStore } from '../catalog/tenant-store.js';
import type { TransactionRecord, TransactionStore } from '../catalog/transaction-store.js';
import { GatewayError } from '../errors/errors.js';
import type { ProtocolOutcome } from './saga.js';
import { LeaseLost, type StepRunner } from './step-runner.js';

export interface TenantEraseDeps {
  readonly tenants: Pick<TenantStore, 'markErasure'>;
  readonly apiKeys: Pick<ApiKeyStore, 'revokeAll' | 'deleteAll'>;
  readonly partnerships: Pick<PartnershipStore, 'deleteAllOf'>;
  readonly pins: Pick<PinStore, 'delete'>;
  readonly moves: Pick<JobStore, 'activeMove'>;
  /** the tenant's rows on each shard (committed batches; safe to run again) */
  readonly rows: { shardIds(): string[]; eraseRows(shardId: string, tenantId: string): Promise<number> };
  /** every cached copy of the tenant's records, on every pod */
  readonly cache: { invalidateTenant(tenantId: string): Promise<void> };
  /** tells this pod's authenticator and the other pods' that the tenant's keys stopped working */
  readonly keysRevoked: (tenantId: string) => void;
  readonly store: Pick<TransactionStore, 'setStage' | 'claim'>;
  readonly runner: StepRunner;
}

/** Retried like any transient failure: the tenant's move must end (cutover or rollback) before its rows can go. */
class MoveInProgress extends GatewayError {
  constructor(tenantId: string) {
    super('TENANT_FENCED', `tenant ${tenantId} is being moved: its erase waits for the move to end`);
  }
}

const tenantOf = (tx: TransactionRecord): string => tx.buyer;

/**
 * Erasing a tenant, as a saga in the coordinator's log (kind `erase`) that only goes
 * forward: every step can run again. revoke (status `erasing`, every key revoked: 401 on
 * every pod within a second) → rows (after any move of the tenant ended, every row on every
 * shard in committed batches, each shard's count in its step) → cleanup (cached copies,
 * partnerships, pin, key rows; status `erased`). The lease is renewed between shards, so a
 * long erase stays with its pod; a pod that dies leaves it to another's recovery loop.
 */
export class TenantErase {
  constructor(
    private readonly deps: TenantEraseDeps,
    private readonly owner: string,
    private readonly leaseMs: number,
  ) {}

  async drive(tx: TransactionRecord, deadline: number): Promise<ProtocolOutcome> {
    const { deps } = this;
    const { runner } = deps;
    const tenant = tenantOf(tx);
    const catalogStep = (action: string, work: () => Promise<void>) => runner.attempt(tx.id, { tenantId: tenant, action, shard: 'catalog' }, deadline, work);
    let stage = tx.stage;

    if (stage === 'revoke') {
      await catalogStep('revoke keys', async () => {
        await deps.tenants.markErasure(tenant, 'erasing');
        await deps.apiKeys.revokeAll(tenant);
        deps.keysRevoked(tenant);
      });
      stage = await this.#stage(tx, 'rows');
    }
    if (stage === 'rows') {
      await catalogStep('await moves', async () => {
        if (await deps.moves.activeMove(tenant)) throw new MoveInProgress(tenant);
      });
      for (const shard of deps.rows.shardIds()) {
        await runner.attempt(tx.id, { tenantId: tenant, action: 'delete rows', shard }, deadline, async (where) => {
          where.detail = { rows: await deps.rows.eraseRows(shard, tenant) };
        });
        await this.#renew(tx);
      }
      await this.#stage(tx, 'cleanup');
    }
    await catalogStep('drop cached copies', () => deps.cache.invalidateTenant(tenant));
    await catalogStep('forget partnerships, pin and keys', async () => {
      await deps.partnerships.deleteAllOf(tenant);
      await deps.pins.delete(tenant);
      await deps.apiKeys.deleteAll(tenant);
      await deps.tenants.markErasure(tenant, 'erased');
      deps.keysRevoked(tenant);
    });
    return { state: 'committed', error: null };
  }

  async #stage(tx: TransactionRecord, stage: string): Promise<string> {
    if (!(await this.deps.store.setStage(tx.id, this.owner, stage))) throw new LeaseLost(`transaction ${tx.id} is no longer ours`);
    return stage;
  }

  async #renew(tx: TransactionRecord): Promise<void> {
    if (!(await this.deps.store.claim(tx.id, this.owner, this.leaseMs))) throw new LeaseLost(`transaction ${tx.id} is no longer ours`);
  }
}
