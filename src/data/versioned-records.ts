import type { Model, ModelStatic, Transaction, WhereOptions } from 'sequelize';
import type { ShardNode } from '../cluster/shard-node.js';
import { audited } from '../models/index.js';
import { NotFoundError, VersionMismatchError } from '../errors/errors.js';
import type { TenantSession } from './tenant-session.js';
import type { UniqueFields } from './translate-db-error.js';

/** A row of a tenant table that is versioned (optimistic locking) and paranoid (soft delete). */
export interface VersionedRow extends Model {
  tenantId: string;
  id: string;
  version: number;
  deletedAt: Date | null;
}

/** The single-record writes every versioned resource offers, as the HTTP edge calls them. */
export interface VersionedResource<Dto, Input, Patch> {
  create(session: TenantSession, input: Input): Promise<Dto>;
  update(session: TenantSession, id: string, patch: Patch, expectedVersion: number | undefined): Promise<Dto>;
  remove(session: TenantSession, id: string): Promise<void>;
  restore(session: TenantSession, id: string): Promise<Dto>;
}

export interface VersionedRecordsSpec<Row extends VersionedRow, Dto> {
  /** the record's name in a 404: 'user', 'product' */
  readonly what: string;
  /** the model bound to the node the session chose */
  readonly model: (node: ShardNode) => ModelStatic<Row>;
  readonly toDto: (row: Row) => Dto;
  readonly uniqueFields?: UniqueFields | undefined;
  /** after a change has committed (never inside the transaction): drop cached copies */
  readonly afterCommit?: ((session: TenantSession, id: string) => Promise<void>) | undefined;
}

/**
 * Update, soft delete and restore of one record, written once for every versioned model
 * (a repository extends it and adds its own create and reads):
 * the row is locked (`FOR UPDATE`) in a transaction on the primary, `If-Match` is checked
 * against its version, and the change goes through the model instance so its hooks audit
 * it (in the same transaction) and Sequelize bumps the version.
 */
export class VersionedRecords<Row extends VersionedRow, Dto> {
  readonly #spec: VersionedRecordsSpec<Row, Dto>;

  constructor(spec: VersionedRecordsSpec<Row, Dto>) {
    this.#spec = Object.freeze({ ...spec });
  }

  async update(session: TenantSession, id: string, patch: object, expectedVersion: number | undefined): Promise<Dto> {
    return this.#change(session, id, false, async (row, transaction) => {
      if (expectedVersion !== undefined && row.version !== expectedVersion) throw new VersionMismatchError(expectedVersion, row.version);
      row.set(patch as Partial<Row>);
      if (row.changed() !== false) await row.save(audited(transaction, session.actor));
      return this.#spec.toDto(row);
    });
  }

  async remove(session: TenantSession, id: string): Promise<void> {
    await this.#change(session, id, false, async (row, transaction) => {
      await row.destroy(audited(transaction, session.actor));
    });
  }

  /** Brings back a soft-deleted record; restoring a live one is a no-op that returns it. */
  async restore(session: TenantSession, id: string): Promise<Dto> {
    return this.#change(session, id, true, async (row, transaction) => {
      if (row.deletedAt !== null) await row.restore(audited(transaction, session.actor));
      return this.#spec.toDto(row);
    });
  }

  async #change<T>(session: TenantSession, id: string, includeDeleted: boolean, work: (row: Row, t: Transaction) => Promise<T>): Promise<T> {
    const result = await session.transaction(
      async (transaction, node) => {
        const where = { tenantId: session.tenantId, id } as WhereOptions<Row>;
        const row = await this.#spec.model(node).findOne({ where, paranoid: !includeDeleted, transaction, lock: transaction.LOCK.UPDATE });
        if (!row) throw new NotFoundError(this.#spec.what, id);
        return work(row, transaction);
      },
      { uniqueFields: this.#spec.uniqueFields },
    );
    await this.#spec.afterCommit?.(session, id);
    return result;
  }
}
