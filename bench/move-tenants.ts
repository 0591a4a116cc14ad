import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR } from './options.js';
import { createProducts, createTenant, type SeedTarget } from './seed.js';
import { pool, request } from './http.js';

/** A tenant the move scenario moves; no other scenario touches it. */
export interface MoveTenant {
  readonly id: string;
  readonly apiKey: string;
  /** products seeded; its rows are more (an audit row per write), the job reports how many moved */
  readonly rows: number;
  /** a few of its product ids, for the writers */
  readonly productIds: readonly string[];
}

export interface MoveTenants {
  readonly catalog: string;
  readonly small: readonly MoveTenant[];
  /** the tenant whose copy gives rows/s; none in smoke mode */
  readonly big: MoveTenant | undefined;
}

/** How many products the writers of a moving tenant cycle through. */
const WRITER_PRODUCTS = 64;

function cacheFile(catalog: string, small: number, smallRows: number, bigRows: number): string {
  const tag = createHash('sha1').update(catalog).digest('hex').slice(0, 10);
  return path.join(RESULTS_DIR, `move-tenants-${tag}-${small}x${smallRows}-${bigRows}.json`);
}

const admin = (target: SeedTarget) => ({ authorization: `Bearer ${target.adminToken}` });

/** Where the gateway places each tenant now (moves change it; the seed files record only where tenants were created). */
export async function placements(target: SeedTarget, ids: readonly string[]): Promise<Map<string, string>> {
  const shards = await pool(ids, 8, async (id) => {
    const res = await request('GET', `${target.adminUrl}/admin/tenants/${encodeURIComponent(id)}`, admin(target));
    if (res.status !== 200) throw new Error(`GET /admin/tenants/${id}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
    return (res.body as { shard: string }).shard;
  });
  return new Map(ids.map((id, i) => [id, shards[i]!]));
}

async function stillValid(tenants: readonly MoveTenant[], target: SeedTarget): Promise<boolean> {
  for (const t of tenants) {
    const res = await request('GET', `${target.tenantUrl}/v1/products/${t.productIds[0]}`, { authorization: `Bearer ${t.apiKey}` });
    if (res.status !== 200) return false;
  }
  return true;
}

async function create(target: SeedTarget, id: string, rows: number): Promise<MoveTenant> {
  const { apiKey } = await createTenant(target, id);
  // a few batch streams at once: the big tenant is tens of thousands of rows
  const parts = rows >= 10_000 ? 4 : 1;
  const ids = await Promise.all(Array.from({ length: parts }, (_, k) => createProducts(target, apiKey, Math.floor(rows / parts) + (k < rows % parts ? 1 : 0))));
  return { id, apiKey, rows, productIds: ids.flat().slice(0, WRITER_PRODUCTS) };
}

/**
 * The move scenario's own tenants (so moving them never disturbs the seed that the read
 * scenarios and baselines address by shard), remembered in bench/results/ like the seed:
 * a 50k-row tenant takes a while to create.
 */
export async function ensureMoveTenants(catalog: string, small: number, smallRows: number, bigRows: number, target: SeedTarget): Promise<MoveTenants> {
  const file = cacheFile(catalog, small, smallRows, bigRows);
  if (existsSync(file)) {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as { catalog: string; small: MoveTenant[]; big: MoveTenant | null };
    const all = [...cached.small, ...(cached.big ? [cached.big] : [])];
    if (cached.catalog === catalog && (await stillValid(all, target))) return { catalog, small: cached.small, big: cached.big ?? undefined };
    console.log(`bench: ${path.basename(file)} no longer matches the cluster: creating the move tenants again`);
  }
  const started = Date.now();
  const prefix = `bench-move-${randomBytes(3).toString('hex')}`;
  const smallTenants = await pool(Array.from({ length: small }, (_, i) => i), 4, (i) => create(target, `${prefix}-${i}`, smallRows));
  const big = bigRows > 0 ? await create(target, `${prefix}-big`, bigRows) : undefined;
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(file, JSON.stringify({ catalog, small: smallTenants, big: big ?? null }));
  console.log(`bench: created ${small} move tenants × ${smallRows} products${big ? ` and one of ${bigRows}` : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s (${path.basename(file)})`);
  return { catalog, small: smallTenants, big };
}
