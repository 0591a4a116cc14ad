import { context, trace, type Attributes, type Span, SpanStatusCode } from '@opentelemetry/api';
import { getRPCMetadata, RPCType } from '@opentelemetry/core';

/**
 * The HTTP server span of the current request, through the RPC metadata the http
 * instrumentation leaves in the context (the active span may be a child of it).
 */
export function serverSpan(): Span | undefined {
  return getRPCMetadata(context.active())?.span ?? trace.getActiveSpan();
}

/**
 * The route template (`/v1/products/:id`) of the current request, for the server span: the
 * http instrumentation names the span and sets `http.route` from it when the response closes.
 */
export function nameServerRoute(route: string): void {
  const metadata = getRPCMetadata(context.active());
  if (metadata?.type === RPCType.HTTP) metadata.route = route;
}

/** Tags both the server span and the currently active span. */
export function tagRequest(attributes: Attributes): void {
  const server = serverSpan();
  server?.setAttributes(attributes);
  const active = trace.getActiveSpan();
  if (active !== undefined && active !== server) active.setAttributes(attributes);
}

const tracer = trace.getTracer('shardgate');

/** Runs `fn` inside a child span, recording failures on it. */
export async function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Current trace and span ids, for log lines. */
export function traceIds(): { traceId?: string; spanId?: string } {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx === undefined ? {} : { traceId: ctx.traceId, spanId: ctx.spanId };
}

interface Flushable {
  getDelegate?: () => unknown;
  shutdown?: () => Promise<void>;
}

/** Flushes and stops the global tracer provider so the last spans are exported on exit. */
export async function shutdownTelemetry(): Promise<void> {
  const global = trace.getTracerProvider() as Flushable;
  const provider = (global.getDelegate?.() ?? global) as Flushable;
  if (typeof provider.shutdown === 'function') await provider.shutdown();
}
