import { context, createContextKey, ROOT_CONTEXT, type Context, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';

/** What is known about the request being served; the only ambient state in the gateway. */
export interface RequestContext {
  readonly requestId: string;
  /** the request's server span, when this request is traced (sampled); absent otherwise */
  readonly span?: Span | undefined;
  /** the matched route template (`/v1/products/:id`), once the response is sent */
  route?: string;
  tenantId?: string;
  shardId?: string;
  /** the node the request's queries run on, once routed (tags pg spans) */
  dbRole?: 'primary' | 'replica';
  dbNode?: string;
  /** what the request's statements cost: server time summed, rows returned or changed (tenant usage) */
  dbMs?: number;
  rows?: number;
  /** its statements over the slow-query bound, kept until the route that ran them is known */
  slow?: SlowStatement[];
}

/** A statement of the request that ran past the slow-query bound, as it was sent (never logged as is). */
export interface SlowStatement {
  readonly at: number;
  readonly shard: string;
  readonly node: string;
  readonly role: 'primary' | 'replica';
  readonly durationMs: number;
  readonly sql: string;
}

const REQUEST = createContextKey('shardgate.request');
const PROBE = createContextKey('shardgate.context-probe');
let managed = false;

/**
 * One AsyncLocalStorage carries both the request context and OpenTelemetry's: the request
 * context is a value of OpenTelemetry's context, so every async resource a request creates
 * copies one store, not two. The SDK registers the manager when tracing is on; with
 * tracing off (OTEL_SDK_DISABLED) nothing has, and this registers the same manager, so
 * the request context works either way.
 */
function ensureContextManager(): void {
  if (managed) return;
  managed = true;
  const propagates = context.with(ROOT_CONTEXT.setValue(PROBE, true), () => context.active().getValue(PROBE) === true);
  if (!propagates) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

/** Runs `fn` as the request: `request` and the OpenTelemetry context `otel` (its trace, or none) active in it and everything it starts. */
export function runInRequest<T>(request: RequestContext, otel: Context, fn: () => T): T {
  ensureContextManager();
  return context.with(otel.setValue(REQUEST, request), fn);
}

export function currentContext(): RequestContext | undefined {
  return context.active().getValue(REQUEST) as RequestContext | undefined;
}
