import type { Attributes } from '@opentelemetry/api';
import { Attr } from './attributes.js';

/** The routing facts a database span needs, read from the request's context. */
export interface RoutedContext {
  readonly shardId?: string;
  readonly dbRole?: 'primary' | 'replica';
  readonly dbNode?: string;
}

/** Shard, role and replica of the node a request was routed to, for its pg spans. */
export function dbSpanAttributes(ctx: RoutedContext | undefined): Attributes | undefined {
  if (ctx?.shardId === undefined) return undefined;
  const attributes: Attributes = { [Attr.ShardId]: ctx.shardId };
  if (ctx.dbRole) attributes[Attr.DbRole] = ctx.dbRole;
  if (ctx.dbRole === 'replica' && ctx.dbNode) attributes[Attr.DbReplica] = ctx.dbNode;
  return attributes;
}
