import { createHash } from 'node:crypto';
import { QueryTypes, type Transaction } from 'sequelize';
import type { ShardNode } from '../../cluster/shard-node.js';
import type { TenantNode } from '../tenant-session.js';
import { ConflictError } from '../../errors/errors.js';

/** How long a tenant's Idempotency-Key and its first response are kept. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** The header's name, as 400s and 409s name it. */
export const IDEMPOTENCY_FIELD = 'Idempotency-Key';

/** JSON with object keys sorted at every level: equal requests serialise to equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** SHA-256 (hex) of the canonical request: what "the same request" means for a repeated key. */
export function requestHash(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

export type Claim =
  | { readonly kind: 'claimed' }
  | { readonly kind: 'replay'; readonly statusCode: number; readonly response: Record<string, unknown> };

/**
 * The idempotency_keys table, always inside the caller's transaction. The flow:
 * `claim` first (the key row is the first thing the transaction writes), then the work,
 * then `complete` with the response, then COMMIT: key, response and the work's rows
 * become visible together or not at all. A failed request rolls its key back with it,
 * so a client may retry a 4xx/5xx under the same key.
 */
export class IdempotencyKeys {
  constructor(private readonly ttlMs: number = IDEMPOTENCY_TTL_MS) {}

  /**
   * Inserts the key row, or takes over an expired one. When a live row exists, it is the
   * committed first response: replay it if the request hash matches, else 409.
   *
   * Concurrency: a second transaction inserting the same (tenant_id, key) blocks on the
   * first's uncommitted row; when the first commits, PostgreSQL raises 40001 under
   * REPEATABLE READ (the conflicting row is invisible to its snapshot), the caller re-runs
   * the whole transaction, and the new snapshot sees the stored response. If the first
   * rolls back instead, the second simply claims the key.
   */
  async claim(node: ShardNode, transaction: Transaction, tenantId: string, key: string, hash: string, now: Date): Promise<Claim> {
    const claimed = await node.sequelize.query<{ claimed: boolean }>(
      `INSERT INTO idempotency_keys (tenant_id, key, request_hash, status_code, response, created_at, expires_at)
       VALUES ($1, $2, $3, 0, '{}'::jsonb, $4, $5)
       ON CONFLICT (tenant_id, key) DO UPDATE
         SET request_hash = EXCLUDED.request_hash, status_code = 0, response = '{}'::jsonb,
             created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
         WHERE idempotency_keys.expires_at <= EXCLUDED.created_at
       RETURNING true AS claimed`,
      { bind: [tenantId, key, hash, now, new Date(now.getTime() + this.ttlMs)], type: QueryTypes.SELECT, transaction },
    );
    if (claimed.length > 0) return { kind: 'claimed' };

    const stored = await node.models.IdempotencyKey.findOne({ where: { tenantId, key }, transaction });
    // the upsert found a live row, so it is visible in this snapshot; anything else is a bug
    if (!stored) throw new Error(`idempotency key row vanished inside a transaction (${tenantId})`);
    if (stored.requestHash !== hash) {
      throw new ConflictError(`${IDEMPOTENCY_FIELD} was already used for a different request; use a new key`, IDEMPOTENCY_FIELD);
    }
    return { kind: 'replay', statusCode: stored.statusCode, response: stored.response };
  }

  /** Stores the response the claimed key will replay, in the same transaction as the work. */
  async complete(node: ShardNode, transaction: Transaction, tenantId: string, key: string, statusCode: number, response: object): Promise<void> {
    await node.sequelize.query(
      'UPDATE idempotency_keys SET status_code = $3, response = $4::jsonb WHERE tenant_id = $1 AND key = $2',
      { bind: [tenantId, key, statusCode, JSON.stringify(response)], transaction },
    );
  }

  /**
   * Deletes some of the tenant's expired keys: after COMMIT, outside any transaction, best
   * effort (expired rows are ignored anyway; this only keeps the table small).
   */
  async sweepExpired(node: TenantNode, tenantId: string, now: Date, limit = 100): Promise<void> {
    try {
      await node.query(
        `DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key IN (
           SELECT key FROM idempotency_keys WHERE tenant_id = $1 AND expires_at <= $2 LIMIT $3)`,
        [tenantId, now, limit],
      );
    } catch {
      // the order has committed; a failed sweep is retried by the next keyed order
    }
  }
}
