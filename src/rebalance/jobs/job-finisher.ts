import type { JobRecord } from '../../catalog/job-rows.js';
import type { ShardStore } from '../../catalog/shard-store.js';
import type { PlacementAnnouncer } from '../placement-announcer.js';

export interface JobFinisherDeps {
  readonly shards: ShardStore;
  readonly announcer: PlacementAnnouncer;
}

/** A job kind's own ending, after the job's last move: a drain whose tenants all moved retires its shard. */
export class JobFinisher {
  constructor(private readonly deps: JobFinisherDeps) {}

  async finish(job: JobRecord, succeeded: boolean): Promise<void> {
    if (job.kind !== 'drain' || !succeeded || job.params.shard === undefined) return;
    await this.deps.shards.setState(job.params.shard, 'retired');
    await this.deps.announcer.announce([]);
  }
}
