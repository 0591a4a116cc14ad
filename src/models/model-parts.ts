import { DataTypes, Op, type ModelAttributeColumnOptions, type Model, type FindOptions } from 'sequelize';
import { uuidv7 } from './uuidv7.js';

/** The key every shard table starts with: (tenant_id, id), id an app-made UUID v7. */
export function tenantKey(): Record<'tenantId' | 'id', ModelAttributeColumnOptions<Model>> {
  return {
    tenantId: { type: DataTypes.TEXT, primaryKey: true, allowNull: false },
    id: { type: DataTypes.UUID, primaryKey: true, defaultValue: () => uuidv7() },
  };
}

type Column = ModelAttributeColumnOptions<Model>;

/**
 * `version` declared with a default so Sequelize's optimistic locking keeps working (a bare
 * attribute would replace the built-in counter and read NaN), plus the timestamps.
 */
export function versionAndTimestamps(): Record<'version' | 'createdAt' | 'updatedAt', Column> {
  return {
    version: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    createdAt: { type: DataTypes.DATE, allowNull: false },
    updatedAt: { type: DataTypes.DATE, allowNull: false },
  };
}

/** For paranoid models: the soft-delete marker. */
export function softDelete(): Record<'deletedAt', Column> {
  return { deletedAt: { type: DataTypes.DATE, allowNull: true } };
}

/** Scopes shared by the listable models; `orderBy` only accepts whitelisted attributes. */
export function listScopes(sortable: Readonly<Record<string, string>>) {
  return {
    createdBetween: (from?: Date, to?: Date): FindOptions => {
      const range: Record<symbol, Date> = {};
      if (from) range[Op.gte] = from;
      if (to) range[Op.lt] = to;
      return Object.getOwnPropertySymbols(range).length === 0 ? {} : { where: { createdAt: range } };
    },
    orderBy: (field: string, direction: 'ASC' | 'DESC'): FindOptions => {
      const attribute = sortable[field];
      if (attribute === undefined) throw new Error(`unsortable field ${field}`);
      // id breaks ties so pages are stable
      return { order: [[attribute, direction], ['id', direction]] };
    },
  };
}
