/**
 * Loaded with `--import` before the application so instrumentation can patch http,
 * express, pg and ioredis as they load. Configured by the standard OTEL_* variables;
 * `OTEL_SDK_DISABLED=true` turns tracing off.
 */
import { startTelemetry } from './sdk.js';

if (process.env.OTEL_SDK_DISABLED !== 'true') {
  if (!process.env.OTEL_TRACES_EXPORTER && !process.env.OTEL_EXPORTER_OTLP_ENDPOINT && !process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
    // Spans are still recorded (trace ids reach logs and routing attributes reach the
    // server span) but nothing is exported until an endpoint is configured.
    process.env.OTEL_TRACES_EXPORTER = 'none';
  }
  startTelemetry();
}
