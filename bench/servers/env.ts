/** What every baseline server reads from its environment (set by bench/run.ts). */
export interface BaselineEnv {
  /** the replica shardgate would route the measured tenants' reads to */
  readonly replica: string;
  /** that shard's primary (writes) */
  readonly primary: string;
  /** same as shardgate's production pool.max, per node */
  readonly poolMax: number;
  readonly port: number;
}

export function baselineEnv(env: NodeJS.ProcessEnv = process.env): BaselineEnv {
  const replica = env.BENCH_REPLICA;
  const primary = env.BENCH_PRIMARY;
  if (!replica || !primary) throw new Error('BENCH_REPLICA and BENCH_PRIMARY must be set');
  return { replica, primary, poolMax: Number(env.BENCH_POOL_MAX ?? 20), port: Number(env.PORT ?? 0) };
}

/** The same row shardgate returns, read the way a hand-written service would. */
export const POINT_READ = `SELECT id, name, description, price, stock, category_id, is_active, attributes, metadata,
  version, created_at, updated_at FROM products WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL`;

/** The line bench/contenders.ts waits for. */
export function announce(port: number): void {
  console.log(JSON.stringify({ msg: 'bench server ready', port }));
}
