import { QueryTypes, type Transaction } from 'sequelize';
import type { ShardNode } from '../../cluster/shard-node.js';
import { writeAuditRows, type AuditEntry } from '../../models/index.js';
import { ConflictError, ValidationError } from '../../errors/errors.js';
import { fromCents, MAX_AMOUNT_CENTS, toCents } from '../money.js';

export interface OrderLineInput {
  readonly productId: string;
  readonly quantity: number;
}

/** One priced line of an order, in request order. */
export interface PricedLine {
  readonly productId: string;
  readonly quantity: number;
  /** numeric text, as stored: '19.99' */
  readonly unitPrice: string;
  readonly lineTotal: string;
}

export interface Reservation {
  readonly lines: PricedLine[];
  /** numeric text of the order total */
  readonly total: string;
  readonly productIds: string[];
}

interface StockRow {
  id: string;
  stock: number;
  version: number;
  updated_at: Date;
}

/**
 * Reserves stock for an order inside the caller's transaction:
 * 1. locks the tenant's live products of the order `FOR UPDATE`, ordered by id, so two
 *    orders sharing products always lock in the same order and cannot deadlock;
 * 2. checks them in request order (400 `items[i].productId` for an unknown, deleted or
 *    inactive product, never saying whether another tenant has it; 409
 *    `items[i].quantity` naming the product when stock is short) before writing anything;
 * 3. decrements every product in one set-based UPDATE that also bumps `version`;
 * 4. audits each product change with one multi-row insert, shaped like the hooks' rows.
 * Prices are computed in integer cents: no float ever touches money.
 * Lines must name distinct products (the request schema refuses duplicates).
 */
export async function reserveStock(node: ShardNode, transaction: Transaction, tenantId: string, items: readonly OrderLineInput[], actor: string): Promise<Reservation> {
  const ids = [...new Set(items.map((i) => i.productId))].sort();
  const products = await node.models.Product.findAll({
    where: { tenantId, id: ids }, // paranoid: soft-deleted products are not found
    order: [['id', 'ASC']],
    lock: transaction.LOCK.UPDATE,
    transaction,
  });
  const byId = new Map(products.map((p) => [p.id, p]));

  const lines: PricedLine[] = [];
  let totalCents = 0n;
  items.forEach((item, i) => {
    const product = byId.get(item.productId);
    if (product === undefined || !product.isActive) {
      throw new ValidationError(`items[${i}].productId`, `items[${i}].productId: no active product ${JSON.stringify(item.productId)}`);
    }
    const lineCents = toCents(product.price) * BigInt(item.quantity);
    if (lineCents > MAX_AMOUNT_CENTS) throw new ValidationError(`items[${i}].quantity`, `items[${i}].quantity: the line total is too large`);
    totalCents += lineCents;
    lines.push({ productId: product.id, quantity: item.quantity, unitPrice: fromCents(toCents(product.price)), lineTotal: fromCents(lineCents) });
  });
  if (totalCents > MAX_AMOUNT_CENTS) throw new ValidationError('items', 'items: the order total is too large');
  items.forEach((item, i) => {
    const product = byId.get(item.productId)!;
    if (product.stock < item.quantity) {
      throw new ConflictError(
        `Insufficient stock for product ${product.id} (${JSON.stringify(product.name)}): ${item.quantity} requested, ${product.stock} available`,
        `items[${i}].quantity`,
      );
    }
  });

  const now = new Date();
  const updated = await node.sequelize.query<StockRow>(
    `UPDATE products AS p SET stock = p.stock - d.quantity, version = p.version + 1, updated_at = $3
     FROM jsonb_to_recordset($2::jsonb) AS d(id uuid, quantity integer)
     WHERE p.tenant_id = $1 AND p.id = d.id AND p.deleted_at IS NULL
     RETURNING p.id::text AS id, p.stock, p.version, p.updated_at`,
    { bind: [tenantId, JSON.stringify(items.map((i) => ({ id: i.productId, quantity: i.quantity }))), now], type: QueryTypes.SELECT, transaction },
  );
  // every row is locked above, so every line must have found its row
  if (updated.length !== ids.length) throw new Error(`stock update touched ${updated.length} of ${ids.length} locked products`);

  const audit: AuditEntry[] = updated.map((row) => {
    const before = byId.get(row.id)!;
    return {
      tenantId,
      recordId: row.id,
      action: 'update',
      oldValues: { stock: before.stock, version: before.version, updatedAt: before.updatedAt },
      newValues: { ...(before.get({ plain: true }) as Record<string, unknown>), stock: row.stock, version: row.version, updatedAt: new Date(row.updated_at) },
    };
  });
  await writeAuditRows(node.models.AuditLog, 'products', audit, { transaction, actor });

  return { lines, total: fromCents(totalCents), productIds: ids };
}
