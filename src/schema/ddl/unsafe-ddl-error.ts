import { escapeIdentifier } from 'pg';
import { ValidationError } from '../../errors/errors.js';

/**
 * A DDL statement the rollout will not run, as a 400 on the field `ddl`: `reason` says what
 * it would do to a live shard (the lock, the rewrite, the gateways it breaks) and `recipe`
 * the safe way to the same end, so the operator can act on the message alone.
 */
export class UnsafeDdlError extends ValidationError {
  constructor(
    readonly reason: string,
    readonly recipe: string,
  ) {
    super('ddl', `ddl: ${reason}. Instead: ${recipe}`);
  }
}

/** A name as PostgreSQL would print it, so `"Order Lines"` and `order_lines` never read alike. */
export function sqlName(name: string): string {
  return escapeIdentifier(name);
}
