import type { Logger } from 'pino';
import { ConflictError, NotFoundError, ValidationError } from '../../errors/errors.js';
import type { JobRunner } from './job-runner.js';
import type { JobStore } from '../../catalog/job-store.js';
import type { PlannedMove } from '../../catalog/job-rows.js';
import type { PlacementAnnouncer } from '../placement-announcer.js';
import { jobView, type JobView } from './job-view.js';
import { currentPlacement, planDrain, planRebalance } from './planner.js';

export interface MoveJobsDeps {
  readonly store: JobStore;
  readonly runner: JobRunner;
  readonly announcer: PlacementAnnouncer;
  readonly logger: Logger;
}

/**
 * The admin commands that start jobs. Each job is created in one catalog transaction
 * together with what must change before any data moves (pins holding tenants in place,
 * shard states), then handed to the runner; the caller gets its id at once.
 */
export class MoveJobs {
  constructor(private readonly deps: MoveJobsDeps) {}

  async startMove(tenantId: string, to: string): Promise<string> {
    const { jobId } = await this.deps.store.createJob('move', (input) => {
      if (!input.tenantIds.includes(tenantId)) throw new NotFoundError('tenant', tenantId);
      const shard = input.shards.find((s) => s.id === to);
      if (!shard) throw new ValidationError('to', `to: unknown shard ${JSON.stringify(to)}`);
      if (shard.state !== 'active' && shard.state !== 'standby') throw new ConflictError(`Shard ${to} is ${shard.state} and takes no tenants`, 'to');
      const from = currentPlacement(input).shardFor(tenantId).shardId;
      if (from === to) throw new ConflictError(`Tenant ${tenantId} is already on ${to}`, 'to');
      return { params: {}, moves: [{ tenant: tenantId, from, to }] };
    });
    return this.#launch(jobId, []);
  }

  async planRebalance(): Promise<readonly PlannedMove[]> {
    return planRebalance(await this.deps.store.planInput()).moves;
  }

  /** Pins every tenant that will move where it is, activates the standby shards (the ring changes), then moves them. */
  async startRebalance(): Promise<string> {
    const { jobId, changes } = await this.deps.store.createJob('rebalance', (input, id) => {
      const plan = planRebalance(input);
      const standby = input.shards.filter((s) => s.state === 'standby').map((s) => s.id);
      return {
        params: { activated: standby },
        moves: plan.moves,
        pins: plan.moves.map((m) => ({ tenantId: m.tenant, shardId: m.from, reason: `rebalance:${id}` })),
        unpins: plan.staleTemporaryPins,
        shardStates: standby.map((s) => ({ id: s, state: 'active' as const })),
      };
    });
    return this.#launch(jobId, changes.unpins ?? []);
  }

  /** Takes the shard out of the ring with its tenants pinned in place, then moves each where the ring now puts it. */
  async startDrain(shardId: string): Promise<string> {
    const { jobId } = await this.deps.store.createJob('drain', (input, id) => {
      const shard = input.shards.find((s) => s.id === shardId);
      if (!shard) throw new NotFoundError('shard', shardId);
      if (shard.state === 'retired') throw new ConflictError(`Shard ${shardId} is already retired`);
      if (!input.shards.some((s) => s.id !== shardId && s.state === 'active')) throw new ConflictError(`No other active shard can take the tenants of ${shardId}`);
      const plan = planDrain(input, shardId);
      return {
        params: { shard: shardId },
        moves: plan.moves,
        pins: plan.moves.map((m) => ({ tenantId: m.tenant, shardId: m.from, reason: `drain:${id}` })),
        shardStates: shard.state === 'draining' ? [] : [{ id: shardId, state: 'draining' as const }],
      };
    });
    return this.#launch(jobId, []);
  }

  async view(jobId: string): Promise<JobView> {
    const job = await this.deps.store.job(jobId);
    if (!job) throw new NotFoundError('job', jobId);
    return jobView(job, await this.deps.store.moves(jobId));
  }

  async #launch(jobId: string, tenantIds: readonly string[]): Promise<string> {
    // the catalog changed (pins, ring): gateways must see it before data moves
    await this.deps.announcer.announce(tenantIds).catch((err: unknown) => this.deps.logger.warn({ err: (err as Error).message }, 'placement announce failed; gateways catch up by polling'));
    void this.deps.runner.submit(jobId).catch((err: unknown) => this.deps.logger.error({ job: jobId, err: (err as Error).message }, 'move job did not start'));
    return jobId;
  }
}
