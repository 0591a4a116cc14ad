import type { Migration } from '../migration.js';
import { applyFenceTriggers } from './0003-move-fence.js';
import { tenantPolicySql } from './0004-row-level-security.js';

/** subject_type → the table it names (the polymorphic association's one list) */
const SUBJECTS: ReadonlyArray<readonly [type: string, table: string, paranoid: boolean]> = [
  ['user', 'users', true],
  ['product', 'products', true],
  ['order', 'orders', false],
];

/**
 * Comments: one table for comments on users, products and orders (subject_type,
 * subject_id), where a foreign key cannot reach. Its integrity lives in the database all
 * the same:
 * - `comments_subject`, a constraint trigger deferred to commit, refuses a comment whose
 *   subject is missing, another tenant's, or soft-deleted (an import inserts tables in
 *   name order: by commit the subjects are in). It locks the subject FOR SHARE, so a
 *   concurrent soft delete waits for the comment to commit (and then hides it) or the
 *   comment sees the delete and fails. A mover's copy of rows that held on the source
 *   passes it under the mover's bypass (privileged roles only).
 * - `subject_deleted_at` follows the subject's soft delete (a trigger on users and
 *   products), so hiding a subject's comments and bringing them back with it is one
 *   indexed UPDATE, and lists filter on a column of the comment itself.
 * Row-level security and the move fence apply as on every tenant table.
 */
export const shard0007: Migration = {
  name: '0007-comments',
  async up(sequelize) {
    const lookups = SUBJECTS.map(
      ([type, table, paranoid]) =>
        `WHEN '${type}' THEN PERFORM 1 FROM public.${table} s WHERE s.tenant_id = NEW.tenant_id AND s.id = NEW.subject_id${paranoid ? ' AND s.deleted_at IS NULL' : ''} FOR SHARE;`,
    ).join('\n          ');
    await sequelize.query(`
      CREATE TABLE comments (
        tenant_id           text NOT NULL,
        id                  uuid NOT NULL,
        subject_type        text NOT NULL CHECK (subject_type IN (${SUBJECTS.map(([t]) => `'${t}'`).join(', ')})),
        subject_id          uuid NOT NULL,
        body                text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
        subject_deleted_at  timestamptz,
        version             integer NOT NULL DEFAULT 0,
        created_at          timestamptz NOT NULL,
        updated_at          timestamptz NOT NULL,
        deleted_at          timestamptz,
        PRIMARY KEY (tenant_id, id)
      );
      CREATE INDEX comments_tenant_subject ON comments (tenant_id, subject_type, subject_id, created_at, id);
      CREATE INDEX comments_tenant_created ON comments (tenant_id, created_at, id) WHERE deleted_at IS NULL AND subject_deleted_at IS NULL;
      ALTER TABLE comments ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
      ${tenantPolicySql('comments')}

      CREATE FUNCTION public.shardgate_comment_subject() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        IF current_setting('shardgate.bypass_fence', true) = 'on'
           AND (SELECT r.rolsuper OR r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user) THEN
          RETURN NULL;
        END IF;
        CASE NEW.subject_type
          ${lookups}
          ELSE RAISE EXCEPTION USING ERRCODE = '23514', MESSAGE = format('unknown comment subject type %s', NEW.subject_type);
        END CASE;
        IF NOT FOUND THEN
          RAISE EXCEPTION USING ERRCODE = '23503', CONSTRAINT = 'comments_subject',
            MESSAGE = format('comment %s: no live %s %s for this tenant', NEW.id, NEW.subject_type, NEW.subject_id);
        END IF;
        RETURN NULL;
      END
      $fn$;
      CREATE CONSTRAINT TRIGGER comments_subject AFTER INSERT OR UPDATE OF tenant_id, subject_type, subject_id ON comments
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.shardgate_comment_subject();

      CREATE FUNCTION public.shardgate_comments_follow_subject() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        UPDATE public.comments c SET subject_deleted_at = NEW.deleted_at
         WHERE c.tenant_id = NEW.tenant_id AND c.subject_type = TG_ARGV[0] AND c.subject_id = NEW.id;
        RETURN NULL;
      END
      $fn$;
      ${SUBJECTS.filter(([, , paranoid]) => paranoid)
        .map(
          ([type, table]) => `CREATE TRIGGER ${table}_comments_follow AFTER UPDATE OF deleted_at ON ${table}
        FOR EACH ROW WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at) EXECUTE FUNCTION public.shardgate_comments_follow_subject('${type}');`,
        )
        .join('\n      ')}
    `);
    await applyFenceTriggers(sequelize);
  },
  async down(sequelize) {
    await sequelize.query(`
      ${SUBJECTS.filter(([, , paranoid]) => paranoid)
        .map(([, table]) => `DROP TRIGGER ${table}_comments_follow ON ${table};`)
        .join(' ')}
      DROP TABLE comments;
      DROP FUNCTION public.shardgate_comments_follow_subject();
      DROP FUNCTION public.shardgate_comment_subject();
    `);
  },
};
