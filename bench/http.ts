/** Small JSON-over-HTTP helpers for setup (seeding, tokens); load itself goes through autocannon. */
export interface JsonResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

export async function request(method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<JsonResponse> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export async function expectStatus(what: string, expected: number, res: Promise<JsonResponse>): Promise<JsonResponse> {
  const r = await res;
  if (r.status !== expected) throw new Error(`${what}: expected ${expected}, got ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r;
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A product body like a storefront's: hstore attributes, jsonb metadata, a description to search. */
export function productBody(i: number): Record<string, unknown> {
  return {
    name: `Bench product ${i}`,
    description: `Seeded by npm run bench: item ${i} of a realistic catalog row`,
    price: `${(i % 500) + 0.99}`,
    stock: 1_000_000,
    categoryId: `cat-${i % 20}`,
    attributes: { color: ['red', 'green', 'blue'][i % 3]!, size: String(i % 5) },
    metadata: { seed: true, rank: i },
  };
}

/** One request of a workload, outside the load generator: its status proves the workload is well formed. */
export async function probe(baseUrl: string, req: { method: string; path: string; headers: Record<string, string>; body?: string }): Promise<void> {
  const res = await fetch(baseUrl + req.path, { method: req.method, headers: req.headers, body: req.body });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${req.method} ${req.path} answered ${res.status}: ${text.slice(0, 300)}`);
}
