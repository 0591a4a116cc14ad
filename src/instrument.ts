/**
 * Loaded with `--import` before the application so instrumentation can patch pg and
 * ioredis as they load (the HTTP server span is the gateway's own: telemetry/server-spans.ts). Configured by the standard OTEL_* variables;
 * `OTEL_SDK_DISABLED=true` turns tracing off; `SHARDGATE_SQLCOMMENTER=1` appends the
 * trace context to every SQL statement as a sqlcommenter comment. The sampler is
 * `telemetry.traceSampleRatio` of the configuration (production: 10 %) unless
 * OTEL_TRACES_SAMPLER names one.
 */
import { startTelemetry } from './telemetry/start-telemetry.js';
import { dbSpanAttributes } from './telemetry/db-span-attributes.js';
import { currentContext } from './context/request-context.js';
import { loadConfig } from './config/load-config.js';

function configuredSampleRatio(): number | undefined {
  if (process.env.OTEL_TRACES_SAMPLER) return undefined;
  try {
    return loadConfig().telemetry.traceSampleRatio;
  } catch {
    // an invalid configuration is reported by main, which refuses to start
    return undefined;
  }
}

if (process.env.OTEL_SDK_DISABLED !== 'true') {
  if (!process.env.OTEL_TRACES_EXPORTER && !process.env.OTEL_EXPORTER_OTLP_ENDPOINT && !process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
    // Nothing to export to: the SDK then registers no tracer provider, so spans cost
    // nothing until an endpoint (or OTEL_TRACES_EXPORTER=console) is configured.
    process.env.OTEL_TRACES_EXPORTER = 'none';
  }
  // Metrics are Prometheus on the admin port and logs are pino on stdout. NodeSDK would
  // otherwise push both over OTLP too, and the http and pg instrumentations would record a
  // duration histogram for every request and query (sampled or not) only to duplicate them.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  startTelemetry({
    dbSpanAttributes: () => dbSpanAttributes(currentContext()),
    sqlCommenter: process.env.SHARDGATE_SQLCOMMENTER === '1' || process.env.SHARDGATE_SQLCOMMENTER === 'true',
    traceSampleRatio: configuredSampleRatio(),
  });
}
