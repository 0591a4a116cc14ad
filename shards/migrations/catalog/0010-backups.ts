import type { Migration } from '../migration.js';

/**
 * Backups (issue 18): `backup_runs` are the jobs — a base backup of every shard, or a
 * tenant's restore — claimed under a lease so another gateway resumes one whose owner
 * died; `backups` one base backup of one shard, where it lies and the first moment it
 * restores to (`consistent_at`), with the first WAL segment it needs (`wal_from`: the
 * archive is cleaned up to the oldest kept backup's).
 */
export const catalog0010: Migration = {
  name: '0010-backups',
  async up(sequelize) {
    await sequelize.query(`
      CREATE TABLE backup_runs (
        id           uuid PRIMARY KEY,
        kind         text NOT NULL CHECK (kind IN ('backup', 'restore')),
        state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'succeeded', 'failed')),
        params       jsonb NOT NULL DEFAULT '{}'::jsonb,
        progress     jsonb NOT NULL DEFAULT '{}'::jsonb,
        result       jsonb,
        error        text,
        owner        text,
        lease_until  timestamptz,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        finished_at  timestamptz
      );
      CREATE INDEX backup_runs_open ON backup_runs (created_at) WHERE state IN ('pending', 'running');

      CREATE TABLE backups (
        id             uuid PRIMARY KEY,
        run_id         uuid REFERENCES backup_runs (id),
        shard_id       text NOT NULL,
        state          text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed', 'deleted')),
        location       text NOT NULL,
        started_at     timestamptz NOT NULL DEFAULT now(),
        finished_at    timestamptz,
        consistent_at  timestamptz,
        wal_from       text,
        size_bytes     bigint,
        error          text
      );
      CREATE INDEX backups_restorable ON backups (shard_id, consistent_at) WHERE state = 'done';
    `);
  },
  async down(sequelize) {
    await sequelize.query('DROP TABLE backups, backup_runs');
  },
};
