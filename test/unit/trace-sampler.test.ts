import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace-base';
import { traceSampler } from '../../src/telemetry/start-telemetry.js';

describe('trace sampler from telemetry.traceSampleRatio', () => {
  const traceId = () => randomBytes(16).toString('hex');

  it('leaves the choice to the SDK (OTEL_TRACES_SAMPLER, else always on) at 1', () => {
    expect(traceSampler(1)).to.equal(undefined);
    expect(traceSampler(undefined)).to.equal(undefined);
  });

  it('records about the ratio of new traces, and always follows a caller that sampled', () => {
    const sampler = traceSampler(0.05)!;
    let recorded = 0;
    for (let i = 0; i < 4000; i++) {
      if (sampler.shouldSample(ROOT_CONTEXT, traceId(), 'GET', SpanKind.SERVER, {}, []).decision === SamplingDecision.RECORD_AND_SAMPLED) recorded++;
    }
    expect(recorded).to.be.within(100, 320);
    const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: traceId(), spanId: randomBytes(8).toString('hex'), traceFlags: TraceFlags.SAMPLED, isRemote: true });
    for (let i = 0; i < 50; i++) {
      expect(sampler.shouldSample(parent, traceId(), 'GET', SpanKind.SERVER, {}, []).decision).to.equal(SamplingDecision.RECORD_AND_SAMPLED);
    }
  });
});
