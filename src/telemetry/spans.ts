import { trace, type Attributes, type Span, SpanStatusCode } from '@opentelemetry/api';

/** Tags the request's server span and, if another is active inside it, that one too. */
export function tagRequest(server: Span, attributes: Attributes): void {
  server.setAttributes(attributes);
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
