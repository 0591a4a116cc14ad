import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { currentContext, runInRequest } from '../../src/context/request-context.js';

const PROBE = path.resolve(__dirname, '..', 'support', 'request-context-probe.ts');

describe('request context (one AsyncLocalStorage with OpenTelemetry\'s)', () => {
  it('follows each request through its awaits, in a process with tracing on', async () => {
    const seen = await Promise.all(
      ['r1', 'r2'].map((id, i) =>
        runInRequest({ requestId: id }, ROOT_CONTEXT, async () => {
          await sleep(10 - i * 5);
          return currentContext()?.requestId;
        }),
      ),
    );
    expect(seen).to.deep.equal(['r1', 'r2']);
    expect(currentContext()).to.equal(undefined);
  });

  it('works with the OpenTelemetry SDK off (OTEL_SDK_DISABLED: no context manager registered but its own)', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', PROBE], { encoding: 'utf8', env: { ...process.env, OTEL_SDK_DISABLED: 'true' }, timeout: 60_000 });
    expect(run.status, run.stderr).to.equal(0);
    expect(JSON.parse(run.stdout.trim())).to.deep.equal({ seen: [['a', 'a'], ['b', 'b']], outside: null });
  });
});
