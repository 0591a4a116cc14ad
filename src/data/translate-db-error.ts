import {
  BaseError, ConnectionError, DatabaseError, OptimisticLockError, UniqueConstraintError, ValidationError as SequelizeValidationError,
} from 'sequelize';
import {
  CONNECTION_FAILURE, ConflictError, GatewayError, QueryTimeoutError, RowsLockedError, ShardUnavailableError, TenantFencedError, ValidationError,
} from '../errors/errors.js';

/** SQLSTATEs that mean "this node cannot serve right now", not "the request was wrong". */
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '25006', // read_only_sql_transaction (a write reached a standby)
  '08000', '08003', '08006', '08001', '08004',
]);

/** unique index name → the API field it guards, for 409s that name the field */
export type UniqueFields = Readonly<Record<string, string>>;

/** The custom SQLSTATE the move fence trigger raises for a fenced tenant's write. */
export const FENCED_SQLSTATE = 'SG001';

function sqlState(err: unknown): string | undefined {
  const parent = (err as { parent?: { code?: unknown } }).parent;
  return typeof parent?.code === 'string' ? parent.code : undefined;
}

/**
 * Maps driver and Sequelize errors to typed gateway errors, once, so a client error is
 * never a 500 and an infrastructure fault is a 503 with Retry-After. `uniqueFields` maps
 * a unique index name to the API field it guards.
 */
export function translateDbError(err: unknown, shardId: string, uniqueFields: UniqueFields = {}): unknown {
  if (err instanceof GatewayError) return err;
  if (err instanceof UniqueConstraintError) {
    const constraint = (err.parent as { constraint?: string } | undefined)?.constraint ?? '';
    const field = uniqueFields[constraint];
    return new ConflictError(field ? `${field} is already taken` : 'A record with the same unique value exists', field);
  }
  if (err instanceof OptimisticLockError) {
    return new GatewayError('VERSION_MISMATCH', 'The record was changed by another request; reload and retry');
  }
  if (err instanceof SequelizeValidationError) {
    const first = err.errors[0];
    return new ValidationError(first?.path ?? 'body', first?.message ?? err.message);
  }
  if (err instanceof ConnectionError) return new ShardUnavailableError(shardId, { cause: err });
  if (err instanceof DatabaseError) {
    const state = sqlState(err);
    if (state === '57014') return new QueryTimeoutError(shardId, { cause: err });
    if (state === '55P03') return new RowsLockedError(shardId, { cause: err });
    // raised by the move fence trigger (shards/migrations/shard/0003-move-fence.ts)
    if (state === FENCED_SQLSTATE) return new TenantFencedError(shardId, { cause: err });
    if (state !== undefined && UNAVAILABLE_SQLSTATES.has(state)) return new ShardUnavailableError(shardId, { cause: err });
    if (state === '40001' || state === '40P01') {
      return new GatewayError('CONFLICT', 'Concurrent update conflict; retry the request', { cause: err, retryAfterSeconds: 0 });
    }
    // a reference the database checks where no foreign key reaches (a comment's subject)
    if (state === '23503') return new ConflictError('The record refers to one that does not exist, is deleted or is not this tenant\'s');
    if (state === '22P02' || state === '22007' || state === '22008' || state === '22003' || state === '22001') {
      return new ValidationError('body', 'A value has the wrong format or is out of range');
    }
  }
  if (err instanceof BaseError && CONNECTION_FAILURE.test(err.message)) {
    return new ShardUnavailableError(shardId, { cause: err });
  }
  return err;
}
