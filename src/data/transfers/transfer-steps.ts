import { QueryTypes } from 'sequelize';
import { scopeStatement } from '../../cluster/tenant-scoped-query.js';
import { GatewayError, InsufficientStockError, ValidationError } from '../../errors/errors.js';
import { uuidv7 } from '../../models/index.js';
import type { ProductCache } from '../products/product-cache.js';
import type { TenantSession } from '../tenant-session.js';

/** How long a two-phase prepare waits for a row lock before it gives its connection back and retries. */
const PREPARE_LOCK_TIMEOUT_MS = 200;

/** What a step does to one product of the tenant it runs for. */
export interface StockChange {
  /** the request's item index, for the field a failure names */
  readonly item: number;
  readonly productId: string;
  /** added to stock (negative: taken) */
  readonly stockDelta: number;
  /** added to reserved */
  readonly reservedDelta: number;
}

/**
 * One step of a transfer on one tenant, as the ledger names it:
 * - `blockedBy`: steps whose row makes this one a no-op (a compensation that already ran
 *   keeps a late forward step from applying, and the other way round);
 * - `requires`: a step whose row must exist for the changes to apply (a release with no
 *   reservation only leaves its row, so a reservation arriving later is refused).
 */
export interface StepSpec {
  readonly transferId: string;
  readonly step: 'reserve' | 'apply' | 'confirm' | 'release' | 'reverse' | 'sale' | 'purchase';
  readonly partner: string;
  readonly changes: readonly StockChange[];
  readonly blockedBy?: readonly string[];
  readonly requires?: string | undefined;
  /** the field a missing product names: `productId` (supplier's) or `intoProductId` (buyer's) */
  readonly productField: 'productId' | 'intoProductId';
}

/** applied: changed now; already: an earlier run applied it; blocked: a compensation (or its reverse) ran first; marked: its row only (nothing to undo) */
export type StepOutcome = 'applied' | 'already' | 'blocked' | 'marked';

const LOCK_SQL = `SELECT pg_advisory_xact_lock(7311, hashtext($1 || '/' || $2))`;

/**
 * A step in one statement: its ledger row and its stock changes (each product's version
 * bumped, each change audited) when nothing blocks it, nothing otherwise. $1 tenant,
 * $2 transfer, $3 step, $4 partner, $5 ledger items, $6 blockers, $7 required step,
 * $8 product ids, $9 stock deltas, $10 reserved deltas, $11 audit row ids, $12 actor.
 * Run after LOCK_SQL in the same transaction, so steps of one transfer on one tenant take
 * turns and each sees the others' committed rows.
 */
const STEP_SQL = `
  WITH gate AS (
    SELECT EXISTS (SELECT 1 FROM transfer_ledger WHERE tenant_id = $1 AND transfer_id = $2 AND step = $3) AS done,
           EXISTS (SELECT 1 FROM transfer_ledger WHERE tenant_id = $1 AND transfer_id = $2 AND step = ANY($6::text[])) AS blocked,
           ($7::text IS NULL OR EXISTS (SELECT 1 FROM transfer_ledger WHERE tenant_id = $1 AND transfer_id = $2 AND step = $7)) AS ready
  ), marker AS (
    INSERT INTO transfer_ledger (tenant_id, transfer_id, step, partner_id, items)
    SELECT $1, $2, $3, $4, $5::jsonb FROM gate WHERE NOT done AND NOT blocked
    RETURNING 1
  ), changed AS (
    UPDATE products p SET stock = p.stock + u.ds, reserved = p.reserved + u.dr, version = p.version + 1, updated_at = now()
      FROM unnest($8::uuid[], $9::int[], $10::int[], $11::uuid[]) AS u(id, ds, dr, audit_id), gate
     WHERE NOT gate.done AND NOT gate.blocked AND gate.ready
       AND p.tenant_id = $1 AND p.id = u.id AND p.deleted_at IS NULL AND p.stock + u.ds >= 0 AND p.reserved + u.dr >= 0
    RETURNING p.id, p.stock, p.reserved, u.ds, u.dr, u.audit_id
  ), audit AS (
    INSERT INTO audit_log (tenant_id, id, table_name, record_id, action, actor, old_values, new_values, created_at)
    SELECT $1, audit_id, 'products', id::text, 'update', $12,
           jsonb_build_object('stock', stock - ds, 'reserved', reserved - dr),
           jsonb_build_object('stock', stock, 'reserved', reserved, 'transfer', $2::text, 'step', $3::text), now()
      FROM changed
  )
  SELECT g.done, g.blocked, g.ready, (SELECT count(*)::int FROM changed) AS changed FROM gate g`;

const PRODUCTS_SQL = 'SELECT id::text AS id, stock, reserved FROM products WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND deleted_at IS NULL';

interface GateRow {
  done: boolean;
  blocked: boolean;
  ready: boolean;
  changed: number;
}

type Run = <R>(sql: string, values: readonly unknown[]) => Promise<R[]>;

/**
 * The shard's side of a transfer between tenants: each step a local transaction on the
 * tenant's primary that writes its ledger row with its changes, so running it again
 * changes nothing; or, for two-phase commit, the same changes prepared (`PREPARE
 * TRANSACTION`) and later committed or rolled back by name. A step that cannot apply
 * (a product missing, or short of stock) changes nothing and says which item.
 */
export class TransferSteps {
  constructor(private readonly products: Pick<ProductCache, 'invalidate'>) {}

  /** A saga step in its own transaction. */
  async run(session: TenantSession, spec: StepSpec): Promise<StepOutcome> {
    const outcome = await session.transaction(async (transaction, node) => {
      const run: Run = async <R>(sql: string, values: readonly unknown[]) =>
        (await node.sequelize.query(sql, { bind: values as unknown[], transaction, type: QueryTypes.SELECT })) as R[];
      return this.#apply(run, session, spec);
    });
    if (outcome === 'applied') await this.#invalidate(session, spec);
    return outcome;
  }

  /**
   * A two-phase participant: the step's changes in a transaction prepared as `gid` on the
   * tenant's primary. 'already' when this side was prepared (or committed) before: a
   * prepared transaction of that name, or the ledger row, exists.
   */
  async prepare(session: TenantSession, spec: StepSpec, gid: string): Promise<{ outcome: StepOutcome; shard: string }> {
    const outcome = await session.write((scoped) =>
      scoped.node.withConnection(async (query) => {
        const waiting = await query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_xacts WHERE gid = $1', [gid]);
        if (waiting[0]!.n > 0) return 'already' as const;
        await query('BEGIN', []);
        // A row another transfer holds stays locked until that transfer's second phase, which
        // needs a connection of this same pool: waiting here on a pooled connection could
        // starve it. Give way at once instead; the step runner retries with backoff.
        await query(`SET LOCAL lock_timeout = ${PREPARE_LOCK_TIMEOUT_MS}`, []);
        const scope = scopeStatement({ tenantId: session.tenantId, role: scoped.node.requestRole });
        await query(scope.text, scope.values);
        const result = await this.#apply(query, session, spec);
        if (result !== 'applied') {
          await query('ROLLBACK', []);
          return result;
        }
        // the gid is code-made (sg_<uuid hex>_<side>): nothing to quote
        await query(`PREPARE TRANSACTION '${gid}'`, []);
        return result;
      }),
    );
    return { outcome, shard: session.shard.id };
  }

  async #apply(run: Run, session: TenantSession, spec: StepSpec): Promise<StepOutcome> {
    await run(LOCK_SQL, [session.tenantId, spec.transferId]);
    const [gate] = await run<GateRow>(STEP_SQL, [
      session.tenantId,
      spec.transferId,
      spec.step,
      spec.partner,
      JSON.stringify(spec.changes.map((c) => ({ productId: c.productId, stock: c.stockDelta, reserved: c.reservedDelta }))),
      spec.blockedBy ?? [],
      spec.requires ?? null,
      spec.changes.map((c) => c.productId),
      spec.changes.map((c) => c.stockDelta),
      spec.changes.map((c) => c.reservedDelta),
      spec.changes.map(() => uuidv7()),
      `transfer:${spec.transferId}`,
    ]);
    if (gate!.done) return 'already';
    if (gate!.blocked) return 'blocked';
    if (!gate!.ready) return 'marked';
    if (gate!.changed === spec.changes.length) return 'applied';
    // some product did not take its change: say which, and let the transaction roll back
    throw await this.#why(run, session.tenantId, spec);
  }

  async #why(run: Run, tenantId: string, spec: StepSpec): Promise<GatewayError> {
    const rows = await run<{ id: string; stock: number; reserved: number }>(PRODUCTS_SQL, [tenantId, spec.changes.map((c) => c.productId)]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const c of spec.changes) {
      const field = `items[${c.item}].${spec.productField}`;
      const p = byId.get(c.productId);
      if (p === undefined) return new ValidationError(field, `${field}: no product ${JSON.stringify(c.productId)} of tenant ${tenantId}`);
      if (p.stock + c.stockDelta < 0) {
        return new InsufficientStockError(`Insufficient stock for product ${c.productId}: ${-c.stockDelta} requested, ${p.stock} available`, `items[${c.item}].quantity`);
      }
      if (p.reserved + c.reservedDelta < 0) return new ValidationError(field, `${field}: product ${c.productId} holds less reserved stock than this step releases`);
    }
    return new ValidationError(`items`, 'items: a product changed while the step ran');
  }

  async #invalidate(session: TenantSession, spec: StepSpec): Promise<void> {
    await this.products.invalidate(session, spec.changes.map((c) => c.productId));
  }

  /** After a prepared side committed: its cached products are stale. */
  async committed(session: TenantSession, spec: StepSpec): Promise<void> {
    await this.#invalidate(session, spec);
  }
}
