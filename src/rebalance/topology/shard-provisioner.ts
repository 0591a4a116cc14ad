import type { ShardRow } from '../../catalog/catalog-rows.js';
import type { ShardStore } from '../../catalog/shard-store.js';
import type { ShardTopology } from '../../cluster/shard-registry.js';
import { ConflictError, ShardUnavailableError, ValidationError } from '../../errors/errors.js';
import type { PlacementAnnouncer } from '../placement-announcer.js';
import type { ShardMigrator } from '../shard-migrator.js';
import { withAdminClient, type AdminClientOptions } from '../shard-sql/admin-client.js';
import type { ShardUrlPolicy } from './shard-url-policy.js';

export interface NewShard extends ShardTopology {
  readonly weight: number;
}

export interface ShardProvisionerDeps {
  readonly shards: ShardStore;
  readonly admin: AdminClientOptions;
  readonly migrator: ShardMigrator;
  readonly announcer: PlacementAnnouncer;
  readonly urlPolicy: ShardUrlPolicy;
  /** told why a node could not be reached: the answer to the client says only "unreachable" */
  readonly onUnreachable?: (field: string, err: unknown) => void;
}

interface NodeFacts {
  readonly inRecovery: boolean;
  readonly walLevel: string;
  readonly version: number;
  /** the connecting role may bypass row-level security or stream WAL: not a request role */
  readonly privileged: boolean;
}

const replicaUrl = (r: ShardTopology['replicas'][number]) => (typeof r === 'string' ? r : r.url);

/**
 * POST /admin/shards: checks every node answers and is what it claims to be (a primary
 * with wal_level=logical on PostgreSQL 15+, replicas in recovery), and, when the shard
 * comes with `admin` URLs, that its request URLs' role is least-privileged (no superuser,
 * REPLICATION or BYPASSRLS); migrates the primary as the privileged role, then records the
 * shard as standby: in the topology, out of the ring until a rebalance.
 */
export class ShardProvisioner {
  constructor(private readonly deps: ShardProvisionerDeps) {}

  async add(shard: NewShard): Promise<ShardRow> {
    if ((await this.deps.shards.list()).some((s) => s.id === shard.id)) throw new ConflictError(`Shard ${shard.id} already exists`, 'id');
    this.#checkUrls(shard);
    const admin = shard.admin ?? { primary: shard.primary, replicas: shard.replicas };
    const where = shard.admin ? 'admin.' : '';
    const primary = await this.#facts(admin.primary, `${where}primary`);
    if (primary.inRecovery) throw new ValidationError('primary', 'primary: the server is a standby (in recovery), not a primary');
    if (primary.version < 150000) throw new ValidationError('primary', 'primary: tenant moves need PostgreSQL 15 or later');
    if (primary.walLevel !== 'logical') throw new ValidationError('primary', `primary: wal_level is ${primary.walLevel}; tenant moves need wal_level=logical`);
    for (const [i, replica] of admin.replicas.entries()) {
      const field = `${where}replicas[${i}]`;
      const facts = await this.#facts(replicaUrl(replica), field);
      if (!facts.inRecovery) throw new ValidationError(field, `${field}: the server is not a streaming replica (not in recovery)`);
    }
    if (shard.admin) {
      for (const [field, url] of [['primary', shard.primary], ...shard.replicas.map((r, i) => [`replicas[${i}]`, replicaUrl(r)] as const)] as const) {
        if ((await this.#facts(url, field)).privileged) {
          throw new ValidationError(field, `${field}: the request role must not be a superuser or have REPLICATION or BYPASSRLS (the privileged role belongs in admin)`);
        }
      }
    }
    try {
      await this.deps.migrator.migrate(shard);
    } catch (err) {
      await this.deps.migrator.forget(shard.id).catch(() => undefined);
      throw new ShardUnavailableError(shard.id, { cause: err });
    }
    let row: ShardRow;
    try {
      row = await this.deps.shards.add({ id: shard.id, primary: shard.primary, replicas: shard.replicas, weight: shard.weight, state: 'standby', admin: shard.admin });
    } catch (err) {
      await this.deps.migrator.forget(shard.id).catch(() => undefined);
      throw err;
    }
    await this.deps.announcer.announce([]);
    return row;
  }

  /** every URL, before any connection: nothing is dialled that the policy refuses */
  #checkUrls(shard: NewShard): void {
    const check = (prefix: string, urls: { primary: string; replicas: NewShard['replicas'] }) => {
      this.deps.urlPolicy.check(urls.primary, `${prefix}primary`);
      urls.replicas.forEach((r, i) => this.deps.urlPolicy.check(replicaUrl(r), `${prefix}replicas[${i}]`));
    };
    check('', shard);
    if (shard.admin) check('admin.', shard.admin);
  }

  async #facts(url: string, field: string): Promise<NodeFacts> {
    try {
      return await withAdminClient(url, this.deps.admin, 'provision', async (client) => {
        const { rows } = await client.query<{ r: boolean; w: string; v: string; p: boolean }>(
          `SELECT pg_is_in_recovery() AS r, current_setting('wal_level') AS w, current_setting('server_version_num') AS v,
                  (SELECT rolsuper OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = current_user) AS p`,
        );
        return { inRecovery: rows[0]!.r, walLevel: rows[0]!.w, version: Number(rows[0]!.v), privileged: rows[0]!.p };
      });
    } catch (err) {
      // the driver's text would tell a caller which ports answer and how: the log keeps it
      this.deps.onUnreachable?.(field, err);
      throw new ValidationError(field, `${field}: unreachable (no connection, or the credentials in the URL were refused)`);
    }
  }
}
