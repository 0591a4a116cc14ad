import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger, type Logger } from '../../src/telemetry/logger.js';
import { Gateway, type GatewayOptions } from '../../src/gateway.js';

export interface ClusterShard {
  readonly id: string;
  /** the request role's URLs: row-level security shows it no row without a tenant */
  readonly primary: string;
  readonly replicas: string[];
  /** the same nodes as the privileged role: what tests inspect and tamper with rows through */
  readonly admin: { readonly primary: string; readonly replicas: string[] };
}

export interface ClusterFile {
  readonly catalog: string;
  readonly redis: string;
  readonly shards: ClusterShard[];
}

/** The cluster `npm test` started (test/run.sh exports its gateway.json path). */
export function testCluster(): ClusterFile {
  const file = process.env.SHARDGATE_TEST_CLUSTER;
  if (!file) throw new Error('SHARDGATE_TEST_CLUSTER is not set: run integration tests with `npm test`');
  return JSON.parse(readFileSync(file, 'utf8')) as ClusterFile;
}

/** Several statements on one connection (session settings apply to the later ones); the last one's rows. */
export async function sqlSession<T extends pg.QueryResultRow = Record<string, unknown>>(url: string, statements: string[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let rows: T[] = [];
    for (const text of statements) rows = (await client.query<T>(text)).rows;
    return rows;
  } finally {
    await client.end();
  }
}

export const hasTestCluster = (): boolean => Boolean(process.env.SHARDGATE_TEST_CLUSTER);

/** One query on one node, on its own connection (to check what is really stored where). */
export async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

export interface Json {
  [key: string]: unknown;
}

export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Json;
  readonly text: string;
}

export async function http(method: string, url: string, options: { headers?: Record<string, string>; body?: unknown; raw?: string } = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  let parsed: Json;
  try {
    parsed = text ? (JSON.parse(text) as Json) : {};
  } catch {
    parsed = {};
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

// passes config's admin token check (long, many distinct characters, no pattern)
export const ADMIN_TOKEN = 'sg-test-admin-Vq7RkX2pLw9nZc4hTj8yFb3d';

/** A gateway started in this process against the test cluster, with helpers to drive it. */
export class TestGateway {
  private constructor(readonly gateway: Gateway) {}

  static async start(overrides: Record<string, unknown> = {}, logger?: Logger, options: Pick<GatewayOptions, 'moveHooks' | 'twoPhaseHooks' | 'shardMigrations'> = {}): Promise<TestGateway> {
    testCluster(); // fails clearly when not run through `npm test`
    const cluster = process.env.SHARDGATE_TEST_CLUSTER!;
    const config = loadConfig({ NODE_ENV: 'test', GATEWAY_CONFIG: cluster, GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN }, { overrides });
    const gateway = await Gateway.start(config, { ...options, logger: logger ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'), adminToken: ADMIN_TOKEN });
    return new TestGateway(gateway);
  }

  admin(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
    return http(method, this.gateway.adminUrl + path, { body, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers } });
  }

  /** Creates a fresh tenant (its own id, so tests never step on each other). */
  async createTenant(prefix = 'tenant'): Promise<TestTenant> {
    const id = `${prefix}-${randomUUID()}`;
    const res = await this.admin('POST', '/admin/tenants', { name: `Test ${id}`, id });
    if (res.status !== 201) throw new Error(`tenant create failed: ${res.status} ${res.text}`);
    return new TestTenant(this, id, res.body.apiKey as string, res.body.shard as string);
  }

  /** The same tenant, reached through this gateway (for multi-gateway tests). */
  tenantFor(tenant: TestTenant): TestTenant {
    return new TestTenant(this, tenant.id, tenant.apiKey, tenant.shard);
  }

  async stop(): Promise<void> {
    await this.gateway.stop(1000, 0);
  }
}

export class TestTenant {
  constructor(
    private readonly gw: TestGateway,
    readonly id: string,
    readonly apiKey: string,
    readonly shard: string,
  ) {}

  request(method: string, path: string, options: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<HttpResult> {
    return http(method, this.gw.gateway.tenantUrl + path, {
      ...options,
      headers: { authorization: `Bearer ${this.apiKey}`, ...options.headers },
    });
  }

  async createUser(overrides: Json = {}): Promise<HttpResult> {
    const name = `u${randomUUID().slice(0, 8)}`;
    return this.request('POST', '/v1/users', { body: { username: name, email: `${name}@example.com`, password: 'correct horse battery', ...overrides } });
  }
}
