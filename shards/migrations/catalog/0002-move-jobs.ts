import type { Migration } from '../migration.js';

/**
 * Move jobs and the tenant moves they are made of. A move's stage is written before the
 * stage's side effects run, so a gateway that dies mid-move leaves enough behind for
 * another (or itself, restarted) to roll the move back or finish it.
 */
export const catalog0002: Migration = {
  name: '0002-move-jobs',
  async up(sequelize) {
    await sequelize.query(`
      CREATE TABLE move_jobs (
        id           text PRIMARY KEY,
        kind         text NOT NULL CHECK (kind IN ('move', 'rebalance', 'drain')),
        state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'succeeded', 'failed')),
        params       jsonb NOT NULL DEFAULT '{}'::jsonb,
        progress     jsonb NOT NULL DEFAULT '{}'::jsonb,
        error        text,
        -- the gateway running the job and until when its claim holds (renewed while it runs)
        owner        text,
        lease_until  timestamptz,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX move_jobs_open ON move_jobs (created_at) WHERE state IN ('pending', 'running');

      CREATE TABLE tenant_moves (
        id            text PRIMARY KEY,
        job_id        text NOT NULL REFERENCES move_jobs (id) ON DELETE CASCADE,
        seq           integer NOT NULL,
        tenant_id     text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        source_shard  text NOT NULL REFERENCES shards (id),
        target_shard  text NOT NULL REFERENCES shards (id),
        stage         text NOT NULL DEFAULT 'pending' CHECK (stage IN
                        ('pending', 'copying', 'catching_up', 'fenced', 'verified', 'cutover', 'cleanup', 'done', 'failed')),
        rows_copied   bigint NOT NULL DEFAULT 0,
        attempts      integer NOT NULL DEFAULT 0,
        -- subscription oid, per-table counts, fence timings, leftovers a rollback could not remove
        detail        jsonb NOT NULL DEFAULT '{}'::jsonb,
        error         text,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        started_at    timestamptz,
        finished_at   timestamptz,
        CHECK (source_shard <> target_shard)
      );
      -- one move per tenant at a time, whichever gateway or job asks
      CREATE UNIQUE INDEX tenant_moves_one_active ON tenant_moves (tenant_id) WHERE stage NOT IN ('done', 'failed');
      CREATE INDEX tenant_moves_job ON tenant_moves (job_id, seq);
    `);
  },
  async down(sequelize) {
    await sequelize.query('DROP TABLE tenant_moves, move_jobs');
  },
};
