import type { TransferItem } from '../catalog/transaction-store.js';
import type { StepSpec, StockChange } from '../data/transfers/transfer-steps.js';

type Side = 'supplier' | 'buyer';

/** Each product once (items may name one twice), the first item naming it kept for the field a failure names. */
function changes(items: readonly TransferItem[], side: Side, delta: (quantity: number) => { stock: number; reserved: number }): StockChange[] {
  const byProduct = new Map<string, { item: number; quantity: number }>();
  items.forEach((it, i) => {
    const id = side === 'supplier' ? it.productId : it.intoProductId;
    const seen = byProduct.get(id);
    if (seen) seen.quantity += it.quantity;
    else byProduct.set(id, { item: i, quantity: it.quantity });
  });
  return [...byProduct].map(([productId, { item, quantity }]) => {
    const d = delta(quantity);
    return { item, productId, stockDelta: d.stock, reservedDelta: d.reserved };
  });
}

export interface TransferParties {
  readonly id: string;
  readonly supplier: string;
  readonly buyer: string;
  readonly items: readonly TransferItem[];
}

/**
 * The steps of a transfer, on the ledger of the tenant each runs for. Saga: reserve
 * (supplier: stock → reserved) → apply (buyer: stock up) → confirm (supplier: reserved
 * gone); compensations release (supplier: reserved → stock) and reverse (buyer: stock
 * down). Two-phase: sale (supplier: stock down) and purchase (buyer: stock up), prepared
 * together.
 */
export const transferSpecs = {
  reserve: (t: TransferParties): StepSpec => ({
    transferId: t.id, step: 'reserve', partner: t.buyer, productField: 'productId', blockedBy: ['release'],
    changes: changes(t.items, 'supplier', (q) => ({ stock: -q, reserved: q })),
  }),
  apply: (t: TransferParties): StepSpec => ({
    transferId: t.id, step: 'apply', partner: t.supplier, productField: 'intoProductId', blockedBy: ['reverse'],
    changes: changes(t.items, 'buyer', (q) => ({ stock: q, reserved: 0 })),
  }),
  confirm: (t: TransferParties): StepSpec => ({
    transferId: t.id, step: 'confirm', partner: t.buyer, productField: 'productId', blockedBy: ['release'], requires: 'reserve',
    changes: changes(t.items, 'supplier', (q) => ({ stock: 0, reserved: -q })),
  }),
  release: (t: TransferParties): StepSpec => ({
    transferId: t.id, step: 'release', partner: t.buyer, productField: 'productId', blockedBy: ['confirm'], requires: 'reserve',
    changes: changes(t.items, 'supplier', (q) => ({ stock: q, reserved: -q })),
  }),
  reverse: (t: TransferParties): StepSpec => ({
    transferId: t.id, step: 'reverse', partner: t.supplier, productField: 'intoProductId', requires: 'apply',
    changes: changes(t.items, 'buyer', (q) => ({ stock: -q, reserved: 0 })),
  }),
  sale: (t: TransferParties): StepSpec => ({
    transferId: t.id, step: 'sale', partner: t.buyer, productField: 'productId',
    changes: changes(t.items, 'supplier', (q) => ({ stock: -q, reserved: 0 })),
  }),
  purchase: (t: TransferParties): StepSpec => ({
    transferId: t.id, step: 'purchase', partner: t.supplier, productField: 'intoProductId',
    changes: changes(t.items, 'buyer', (q) => ({ stock: q, reserved: 0 })),
  }),
};
