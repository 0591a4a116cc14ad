import { NodeSDK } from '@opentelemetry/sdk-node';
import { ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Attributes } from '@opentelemetry/api';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { resourceFromAttributes } from '@opentelemetry/resources';

export interface TelemetryOptions {
  readonly serviceName?: string;
  /** explicit processors (tests pass an in-memory one); otherwise the SDK reads OTEL_* */
  readonly spanProcessors?: SpanProcessor[];
  /** attributes for each database span (the shard and node of the current request) */
  readonly dbSpanAttributes?: () => Attributes | undefined;
  /** append the trace context to SQL as a sqlcommenter comment (visible in pg_stat_activity) */
  readonly sqlCommenter?: boolean;
  /**
   * share of new traces recorded, parent-based (a caller's sampling decision is followed);
   * absent or 1: the SDK's own choice (OTEL_TRACES_SAMPLER, else every trace)
   */
  readonly traceSampleRatio?: number;
}

export function traceSampler(ratio: number | undefined): Sampler | undefined {
  if (ratio === undefined || ratio >= 1) return undefined;
  return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
}

/**
 * Starts the OpenTelemetry SDK. It must run before http, pg and ioredis are loaded,
 * so it is imported with `node --import` (see `src/instrument.ts`), never from application code.
 */
export function startTelemetry(options: TelemetryOptions = {}): NodeSDK {
  const chosen = traceSampler(options.traceSampleRatio);
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': options.serviceName ?? process.env.OTEL_SERVICE_NAME ?? 'shardgate' }),
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    ...(chosen ? { sampler: chosen } : {}),
    instrumentations: [
      // No http or Express instrumentation: the gateway makes each request's server span
      // itself (telemetry/server-spans.ts), at no cost when the request is not sampled. The
      // http instrumentation wrapped every request, response and outgoing call (the gateway
      // makes none) and built its attributes before sampling; the Express one wrapped every
      // layer for a handler span that only repeated the server span.
      new PgInstrumentation({
        requireParentSpan: true,
        addSqlCommenterCommentToQueries: options.sqlCommenter ?? false,
        requestHook: (span) => {
          // 9 in 10 requests are not sampled: their spans record nothing, so build no attributes
          if (!span.isRecording()) return;
          const attributes = options.dbSpanAttributes?.();
          if (attributes) span.setAttributes(attributes);
        },
      }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  return sdk;
}
