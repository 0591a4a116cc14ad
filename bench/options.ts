import path from 'node:path';

/** Where the repository is: every spawned contender runs from here (tsx and config/ resolve from it). */
export const REPO_DIR = path.resolve(__dirname, '..');
export const RESULTS_DIR = path.join(REPO_DIR, 'bench', 'results');

export interface BenchOptions {
  /** a few seconds end to end: the harness check the test suite runs */
  readonly smoke: boolean;
  /** gateway.json of the cluster to use; undefined: .cluster/gateway.json, brought up if needed */
  readonly cluster: string | undefined;
  /** measured rounds per scenario; the median is quoted */
  readonly rounds: number;
  /** seconds per measured round */
  readonly durationS: number;
  /** seconds of unmeasured load per scenario before round 1 (JIT, pools, caches) */
  readonly warmupS: number;
  /** concurrent connections of the load generator */
  readonly connections: number;
  readonly tenants: number;
  readonly productsPerTenant: number;
  /** routing micro-benchmark size */
  readonly routingTenants: number;
  readonly routingPins: number;
  /** results file */
  readonly out: string;
  /** only the scenarios whose name contains one of these (empty: all) */
  readonly only: readonly string[];
  /** write a V8 CPU profile per shardgate process into this directory */
  readonly cpuProfDir: string | undefined;
  /** move scenario: small tenants moved (write pause), their products, and the big tenant's (rows/s; 0: none) */
  readonly moveTenants: number;
  readonly moveTenantRows: number;
  readonly moveBigRows: number;
}

const USAGE = `usage: npm run bench -- [--smoke] [--cluster <gateway.json>] [--rounds N] [--duration S]
       [--warmup S] [--connections N] [--tenants N] [--products N] [--only <name>[,<name>]]
       [--cpu-prof <dir>] [--out <file>] [--move-tenants N] [--move-rows N] [--move-big-rows N|0]`;

function num(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number\n${USAGE}`);
  return n;
}

function str(flag: string, value: string | undefined): string {
  if (value === undefined || value === '' || value.startsWith('--')) throw new Error(`${flag} needs a value\n${USAGE}`);
  return value;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const smoke = argv.includes('--smoke');
  const o: { -readonly [K in keyof BenchOptions]: BenchOptions[K] } = {
    smoke,
    cluster: undefined,
    rounds: smoke ? 1 : 5,
    durationS: smoke ? 1 : 5,
    warmupS: smoke ? 0.3 : 2,
    connections: 20,
    tenants: smoke ? 6 : 100,
    productsPerTenant: smoke ? 20 : 1000,
    routingTenants: smoke ? 5_000 : 1_000_000,
    routingPins: smoke ? 500 : 100_000,
    out: path.join(RESULTS_DIR, smoke ? 'smoke.json' : 'latest.json'),
    only: [],
    cpuProfDir: undefined,
    moveTenants: smoke ? 1 : 5,
    moveTenantRows: smoke ? 20 : 1000,
    moveBigRows: smoke ? 0 : 50_000,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = () => argv[++i];
    switch (flag) {
      case '--smoke': break;
      case '--cluster': o.cluster = path.resolve(str(flag, next())); break;
      case '--rounds': o.rounds = Math.round(num(flag, next())); break;
      case '--duration': o.durationS = num(flag, next()); break;
      case '--warmup': o.warmupS = num(flag, next()); break;
      case '--connections': o.connections = Math.round(num(flag, next())); break;
      case '--tenants': o.tenants = Math.round(num(flag, next())); break;
      case '--products': o.productsPerTenant = Math.round(num(flag, next())); break;
      case '--out': o.out = path.resolve(str(flag, next())); break;
      case '--only': o.only = str(flag, next()).split(',').filter(Boolean); break;
      case '--cpu-prof': o.cpuProfDir = path.resolve(str(flag, next())); break;
      case '--move-tenants': o.moveTenants = Math.round(num(flag, next())); break;
      case '--move-rows': o.moveTenantRows = Math.round(num(flag, next())); break;
      // 0 is meaningful here: no big tenant
      case '--move-big-rows': o.moveBigRows = next() === '0' ? 0 : Math.round(num(flag, argv[i])); break;
      case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown argument ${flag}\n${USAGE}`);
    }
  }
  return Object.freeze(o);
}
