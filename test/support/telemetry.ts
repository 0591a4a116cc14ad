/**
 * Loaded by mocha before any spec (see .mocharc.json), so instrumentation patches pg and
 * ioredis before they load. Spans land in memory for the tracing tests.
 */
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startTelemetry } from '../../src/telemetry/start-telemetry.js';
import { dbSpanAttributes } from '../../src/telemetry/db-span-attributes.js';
import { currentContext } from '../../src/context/request-context.js';

export const spanExporter = new InMemorySpanExporter();
startTelemetry({
  serviceName: 'shardgate-test',
  spanProcessors: [new SimpleSpanProcessor(spanExporter)],
  dbSpanAttributes: () => dbSpanAttributes(currentContext()),
  sqlCommenter: true,
});
