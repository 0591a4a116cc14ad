/**
 * Run by request-context.test.ts in a process of its own, without the OpenTelemetry SDK:
 * what a request does before it reads its context again (timers, promises, an event
 * listener), for two requests at once; prints what each saw.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { currentContext, runInRequest } from '../../src/context/request-context.js';
async function main(): Promise<void> {
  const seen = await Promise.all(['a', 'b'].map((id) => runInRequest({ requestId: id }, ROOT_CONTEXT, async () => {
  await sleep(id === 'a' ? 20 : 5);
  const emitter = new EventEmitter();
  const heard = new Promise((resolve) => emitter.once('x', () => resolve(currentContext()?.requestId)));
  setImmediate(() => emitter.emit('x'));
  return [currentContext()?.requestId, await heard];
})));
  console.log(JSON.stringify({ seen, outside: currentContext() ?? null }));
}

void main();
