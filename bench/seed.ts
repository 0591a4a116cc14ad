import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR } from './options.js';
import { expectStatus, pool, productBody, request } from './http.js';

export interface SeedTenant {
  readonly id: string;
  readonly apiKey: string;
  readonly shard: string;
  readonly productIds: readonly string[];
}

export interface Seed {
  readonly catalog: string;
  readonly tenants: readonly SeedTenant[];
}

export interface SeedTarget {
  readonly tenantUrl: string;
  readonly adminUrl: string;
  readonly adminToken: string;
}

/** One file per cluster catalog and size, so a smoke seed never stands in for the full one. */
function seedFile(catalog: string, tenants: number, products: number): string {
  const tag = createHash('sha1').update(catalog).digest('hex').slice(0, 10);
  return path.join(RESULTS_DIR, `seed-${tag}-${tenants}x${products}.json`);
}

/** A remembered seed is reused only if its first and last tenants still answer with their keys. */
async function stillValid(seed: Seed, target: SeedTarget): Promise<boolean> {
  for (const t of [seed.tenants[0], seed.tenants.at(-1)]) {
    const id = t?.productIds[0];
    if (t === undefined || id === undefined) return false;
    const res = await request('GET', `${target.tenantUrl}/v1/products/${id}`, { authorization: `Bearer ${t.apiKey}` });
    if (res.status !== 200) return false;
  }
  return true;
}

export async function createTenant(target: SeedTarget, id: string): Promise<{ apiKey: string; shard: string }> {
  const res = await expectStatus(`create tenant ${id}`, 201, request('POST', `${target.adminUrl}/admin/tenants`, { authorization: `Bearer ${target.adminToken}` }, { name: id, id }));
  const body = res.body as { apiKey: string; shard: string };
  return { apiKey: body.apiKey, shard: body.shard };
}

const BATCH = 250;

export async function createProducts(target: SeedTarget, apiKey: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  // 250 a request: these rows are ~260 bytes of JSON, and bodies stop at http.bodyLimit (100kb)
  for (let start = 0; start < count; start += BATCH) {
    const items = Array.from({ length: Math.min(BATCH, count - start) }, (_, k) => productBody(start + k));
    const res = await expectStatus('seed products', 200, request('POST', `${target.tenantUrl}/v1/products/batch`, { authorization: `Bearer ${apiKey}` }, { items }));
    ids.push(...(res.body as { items: { id: string }[] }).items.map((p) => p.id));
  }
  return ids;
}

/**
 * Tenants × products through the public APIs (admin API for tenants, batch create for
 * products), remembered in bench/results/ so later runs on the same cluster skip it.
 */
export async function ensureSeed(catalog: string, tenants: number, products: number, target: SeedTarget): Promise<Seed> {
  const file = seedFile(catalog, tenants, products);
  if (existsSync(file)) {
    const seed = JSON.parse(readFileSync(file, 'utf8')) as Seed;
    if (seed.catalog === catalog && seed.tenants.length === tenants && (await stillValid(seed, target))) return seed;
    console.log(`bench: ${path.basename(file)} no longer matches the cluster: seeding again`);
  }
  const started = Date.now();
  const prefix = `bench-${randomBytes(3).toString('hex')}`;
  // a line a tenth of the way (the full seed takes minutes): progress, and what is left
  let done = 0;
  const step = Math.max(1, Math.ceil(tenants / 10));
  const created = await pool(Array.from({ length: tenants }, (_, i) => i), 4, async (i): Promise<SeedTenant> => {
    const id = `${prefix}-${String(i).padStart(4, '0')}`;
    const { apiKey, shard } = await createTenant(target, id);
    const tenant = { id, apiKey, shard, productIds: await createProducts(target, apiKey, products) };
    if (++done % step === 0 || done === tenants) {
      const s = (Date.now() - started) / 1000;
      console.log(`bench: seeding ${done}/${tenants} tenants × ${products} products (${s.toFixed(1)} s, ~${((s / done) * (tenants - done)).toFixed(0)} s left)`);
    }
    return tenant;
  });
  const seed: Seed = { catalog, tenants: created };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(file, JSON.stringify(seed));
  console.log(`bench: seeded ${tenants} tenants × ${products} products in ${((Date.now() - started) / 1000).toFixed(1)} s (${path.basename(file)})`);
  return seed;
}
