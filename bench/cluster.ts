import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_DIR, RESULTS_DIR } from './options.js';

type ReplicaEntry = string | { readonly name: string; readonly url: string };

export interface ClusterShard {
  readonly id: string;
  /** the request role's URLs: row-level security applies */
  readonly primary: string;
  readonly replicas: readonly ReplicaEntry[];
  /** the privileged role's URLs (cluster.sh writes both) */
  readonly admin?: { readonly primary: string; readonly replicas?: readonly ReplicaEntry[] };
}

export interface ClusterFile {
  readonly path: string;
  readonly catalog: string;
  readonly redis: string | undefined;
  readonly shards: readonly ClusterShard[];
}

const DEFAULT_FILE = path.join(REPO_DIR, '.cluster', 'gateway.json');
const CLUSTER_SH = path.join(REPO_DIR, 'shards', 'local', 'cluster.sh');

function runClusterSh(command: 'up' | 'status'): boolean {
  // the default cluster's own directory: CLUSTER_DIR/CLUSTER_PORT_BASE from the caller would point elsewhere
  const env: NodeJS.ProcessEnv = { ...process.env, CLUSTER_DIR: path.dirname(DEFAULT_FILE) };
  delete env.CLUSTER_PORT_BASE;
  const r = spawnSync('bash', [CLUSTER_SH, command], { env, stdio: command === 'up' ? 'inherit' : 'ignore' });
  return r.status === 0;
}

/**
 * The cluster to measure. An explicit `--cluster` file is used as it is (its owner runs it);
 * the default `.cluster/` is brought up when its file is missing or a node is down
 * (`cluster.sh up` is idempotent).
 */
export function resolveCluster(explicit: string | undefined): ClusterFile {
  let file = explicit;
  if (file === undefined) {
    file = DEFAULT_FILE;
    if (!existsSync(file) || !runClusterSh('status')) {
      console.log('bench: bringing the local cluster up (shards/local/cluster.sh up)');
      if (!runClusterSh('up')) throw new Error('cluster.sh up failed');
    }
  }
  if (!existsSync(file)) throw new Error(`cluster file ${file} does not exist`);
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Omit<ClusterFile, 'path'>;
  if (typeof parsed.catalog !== 'string' || !Array.isArray(parsed.shards) || parsed.shards.length === 0) {
    throw new Error(`${file} is not a gateway config with a catalog and shards`);
  }
  return { path: file, catalog: parsed.catalog, redis: parsed.redis, shards: parsed.shards };
}

/** The first replica's URL: as the request role, or (`admin`) as the privileged role where the file has one. */
export function replicaUrl(shard: ClusterShard, as: 'request' | 'admin' = 'request'): string {
  const r = (as === 'admin' ? shard.admin?.replicas : undefined)?.[0] ?? shard.replicas[0];
  if (r === undefined) throw new Error(`shard ${shard.id} has no replica: the read baselines need one`);
  return typeof r === 'string' ? r : r.url;
}

export function replicaUrlsOf(shard: ClusterShard, as: 'request' | 'admin' = 'request'): string[] {
  const list = (as === 'admin' ? shard.admin?.replicas : undefined) ?? shard.replicas;
  return list.map((r) => (typeof r === 'string' ? r : r.url));
}

export function primaryUrl(shard: ClusterShard, as: 'request' | 'admin' = 'request'): string {
  return (as === 'admin' ? shard.admin?.primary : undefined) ?? shard.primary;
}

/**
 * The gateway config the shardgate contenders get: the cluster file plus a per-tenant rate
 * far above any load this harness makes. The limiter still runs (its Redis call per request
 * is part of the production cost); it just never answers 429, so the plan's 200/s does not
 * stand in for the gateway's throughput.
 */
export function benchGatewayConfig(cluster: ClusterFile): string {
  const base = JSON.parse(readFileSync(cluster.path, 'utf8')) as Record<string, unknown>;
  const config = {
    ...base,
    limits: { plans: { standard: { ratePerSec: 1_000_000, burst: 10_000_000 } } },
    // the local cluster serves no TLS; production's default (verify-full) would refuse it
    db: { ...(base.db as Record<string, unknown> | undefined), tls: { mode: 'disable' } },
  };
  const tag = createHash('sha1').update(cluster.path).digest('hex').slice(0, 10);
  const file = path.join(RESULTS_DIR, `gateway-${tag}.json`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}
