import type { Sample } from './move-stats.js';

/** One request of a paced loop. */
export interface LoopRequest {
  readonly method: 'GET' | 'PATCH' | 'POST';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  /** carried into the sample: the others' ratio compares tenants on the moving shards only */
  readonly shard?: string;
}

export interface Loops {
  /** every request so far, in completion order */
  readonly samples: Sample[];
  /** the last request of a worker, if it was answered 2xx (undefined when it failed or none ran) */
  lastAcked(worker: number): LoopRequest | undefined;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function send(baseUrl: string, req: LoopRequest): Promise<number> {
  try {
    const res = await fetch(baseUrl + req.path, { method: req.method, headers: req.headers, body: req.body, signal: AbortSignal.timeout(15_000) });
    // drained, so the keep-alive connection is free for the next request
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/**
 * `workers` loops, each sending at most one request every `intervalMs` (a slow answer
 * delays only its own loop). Paced rather than flat out: the scenario measures latency
 * at a steady offered load, and on a small machine a flat-out loop would leave the mover
 * no CPU and measure the load generator instead.
 */
export function pacedLoops(baseUrl: string, workers: number, intervalMs: number, next: (worker: number, i: number) => LoopRequest): Loops {
  const samples: Sample[] = [];
  const last: (LoopRequest | undefined)[] = [];
  let stopped = false;
  const worker = async (w: number) => {
    // staggered, so the workers' requests spread over the interval instead of arriving together
    await sleep((intervalMs * w) / workers);
    for (let i = 0; !stopped; i++) {
      const req = next(w, i);
      const start = performance.now();
      const status = await send(baseUrl, req);
      const end = performance.now();
      samples.push({ start, end, status, ...(req.shard !== undefined ? { shard: req.shard } : {}) });
      last[w] = status >= 200 && status < 300 ? req : undefined;
      const wait = start + intervalMs - performance.now();
      if (wait > 0 && !stopped) await sleep(wait);
    }
  };
  const done = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return {
    samples,
    lastAcked: (w) => last[w],
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}
