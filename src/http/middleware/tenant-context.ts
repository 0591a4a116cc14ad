import type { RequestHandler, Response } from 'express';
import type { TenantAuthenticator, Tenant } from '../../tenancy/tenant-authenticator.js';
import type { Destination } from '../../cluster/shard-router.js';
import type { ShardNode } from '../../cluster/shard-node.js';
import { servedByName, type TenantSession, type SessionListener } from '../../data/tenant-session.js';
import type { RequestedConsistency, TenantSessions } from '../../data/tenant-sessions.js';
import { currentContext } from '../../context/request-context.js';
import { ValidationError } from '../../errors/errors.js';
import { Attr } from '../../telemetry/attributes.js';
import { tagRequest } from '../../telemetry/spans.js';

export interface TenantContextDeps {
  readonly authenticator: TenantAuthenticator;
  readonly sessions: TenantSessions;
  readonly routingHeaders: boolean;
  readonly reportNodeFailure?: (node: ShardNode, err: Error) => void;
}

interface TenantLocals {
  tenant: Tenant;
  session: TenantSession;
}

export function tenantOf(res: Response): Tenant {
  return (res.locals as TenantLocals).tenant;
}

export function sessionOf(res: Response): TenantSession {
  return (res.locals as TenantLocals).session;
}

function readPreference(header: (name: string) => string | undefined): RequestedConsistency {
  const consistency = header('x-consistency')?.trim().toLowerCase();
  if (consistency !== undefined && consistency !== 'strong' && consistency !== 'eventual') {
    throw new ValidationError('X-Consistency', 'X-Consistency must be "strong" or "eventual"');
  }
  const token = header('x-consistency-token')?.trim();
  // the session opens it (for this tenant) and refuses one it did not issue
  return { strong: consistency === 'strong', token: token === '' ? undefined : token };
}

/**
 * tenancy → placement → session: authenticates the key (401/403 here), finds the
 * tenant's shard (pin, else ring) and prepares the request's TenantSession. The node is
 * chosen lazily by the session, on first read or write.
 */
export function tenantContext(deps: TenantContextDeps): RequestHandler {
  return async (req, res, next) => {
    // no span of its own: almost every call is a cache hit, and a catalog lookup has its pg span
    const tenant = await deps.authenticator.authenticate(req.header('authorization'), req.ip ?? 'unknown');
    const ctx = currentContext();
    if (ctx) ctx.tenantId = tenant.id;
    // attributes only for a recorded span: 9 requests in 10 are not sampled in production
    const span = ctx?.span;
    if (span) tagRequest(span, { [Attr.TenantId]: tenant.id });
    const preference = readPreference((name) => req.header(name));

    const onRoute = (d: Destination) => {
      if (ctx) {
        ctx.dbRole = d.role;
        ctx.dbNode = d.node.name;
      }
      if (span) {
        tagRequest(span, {
          [Attr.TenantId]: tenant.id,
          [Attr.ShardId]: d.shardId,
          [Attr.DbRole]: d.role,
          [Attr.RouteReason]: d.reason,
          ...(d.role === 'replica' ? { [Attr.DbReplica]: d.node.name } : {}),
        });
      }
      if (deps.routingHeaders) res.setHeader('X-Served-By', servedByName(d.node));
    };
    const listener: SessionListener = {
      onRoute,
      onToken: (token) => res.setHeader('X-Consistency-Token', token),
      onCachedRead: (servedBy) => {
        if (deps.routingHeaders) res.setHeader('X-Served-By', servedBy);
      },
      ...(deps.reportNodeFailure ? { onNodeFailure: deps.reportNodeFailure } : {}),
    };
    const session = deps.sessions.open(tenant.id, preference, listener);
    if (ctx) ctx.shardId = session.shard.id;
    if (span) tagRequest(span, { [Attr.ShardId]: session.shard.id });
    if (deps.routingHeaders) res.setHeader('X-Shard', session.shard.id);
    const locals = res.locals as TenantLocals;
    locals.tenant = tenant;
    locals.session = session;
    next();
  };
}
