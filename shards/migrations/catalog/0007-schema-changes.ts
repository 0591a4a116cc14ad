import type { Migration } from '../migration.js';

/**
 * Online schema changes (issue 17): one row per operator DDL statement accepted by the
 * safety check, with the plan it was rewritten to and its place in the fleet's order
 * (`seq`: a shard added later replays changes in this order); one row per shard with how
 * far it got (`step`: the plan statements done), so a change resumes where it stopped.
 */
export const catalog0007: Migration = {
  name: '0007-schema-changes',
  async up(sequelize) {
    await sequelize.query(`
      CREATE TABLE schema_changes (
        id           uuid PRIMARY KEY,
        seq          bigserial UNIQUE,
        ddl          text NOT NULL,
        plan         jsonb NOT NULL,
        state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
        error        text,
        owner        text,
        lease_until  timestamptz,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        finished_at  timestamptz
      );
      CREATE INDEX schema_changes_open ON schema_changes (seq) WHERE state IN ('pending', 'running');

      CREATE TABLE schema_change_shards (
        change_id    uuid NOT NULL REFERENCES schema_changes (id) ON DELETE CASCADE,
        shard_id     text NOT NULL,
        state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed', 'cancelled')),
        step         integer NOT NULL DEFAULT 0,
        attempts     integer NOT NULL DEFAULT 0,
        progress     jsonb,
        error        text,
        started_at   timestamptz,
        finished_at  timestamptz,
        PRIMARY KEY (change_id, shard_id)
      );
    `);
  },
  async down(sequelize) {
    await sequelize.query('DROP TABLE schema_change_shards, schema_changes');
  },
};
