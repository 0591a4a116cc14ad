import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { gatewayConfigShape, type GatewayConfig } from './gateway-config.js';

/**
 * The `config/` folder: `SHARDGATE_CONFIG_DIR`, else the nearest `config/default.json` above
 * this file (the repository when run from source, the image root when run from `dist/`).
 */
function findConfigDir(): string {
  if (process.env.SHARDGATE_CONFIG_DIR) return path.resolve(process.env.SHARDGATE_CONFIG_DIR);
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'config', 'default.json'))) return path.join(dir, 'config');
    if (path.dirname(dir) === dir) return path.resolve('config');
  }
}

export const CONFIG_DIR = findConfigDir();

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

type Json = { [key: string]: unknown };

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; arrays and scalars from the later layer replace the earlier one. */
export function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] = isObject(prev) && isObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

function readJson(file: string): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  if (!isObject(parsed)) throw new ConfigError(`config file ${file} must hold a JSON object`);
  return parsed;
}

function intFromEnv(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(`${name} must be a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Environment variables the contract names, as a config layer. */
function envLayer(env: NodeJS.ProcessEnv): Json {
  const layer: Json = {};
  if (env.PORT) layer.port = intFromEnv('PORT', env.PORT);
  if (env.ADMIN_PORT) layer.adminPort = intFromEnv('ADMIN_PORT', env.ADMIN_PORT);
  if (env.HOST) layer.host = env.HOST;
  if (env.GATEWAY_ADMIN_TOKEN) layer.adminToken = env.GATEWAY_ADMIN_TOKEN;
  if (env.REDIS_URL) layer.redis = env.REDIS_URL;
  if (env.LIMITS_REDIS_URL) layer.limits = { redis: env.LIMITS_REDIS_URL };
  if (env.CATALOG_URL) layer.catalog = env.CATALOG_URL;
  if (env.LOG_LEVEL) layer.log = { level: env.LOG_LEVEL };
  if (env.LOG_FORMAT) layer.log = { ...(layer.log as Json | undefined), format: env.LOG_FORMAT };
  if (env.SLOW_QUERY_MS) layer.log = { ...(layer.log as Json | undefined), slowQueryMs: intFromEnv('SLOW_QUERY_MS', env.SLOW_QUERY_MS) };
  if (env.CACHE_ENABLED !== undefined && env.CACHE_ENABLED !== '') layer.cache = { enabled: env.CACHE_ENABLED === '1' || env.CACHE_ENABLED === 'true' };
  if (env.DB_PREPARED_STATEMENTS !== undefined && env.DB_PREPARED_STATEMENTS !== '') {
    layer.db = { preparedStatements: env.DB_PREPARED_STATEMENTS === '1' || env.DB_PREPARED_STATEMENTS === 'true' };
  }
  if (env.LIMITS_ENABLED !== undefined && env.LIMITS_ENABLED !== '') layer.limits = { ...(layer.limits as Json | undefined), enabled: env.LIMITS_ENABLED === '1' || env.LIMITS_ENABLED === 'true' };
  if (env.ROUTING_HEADERS !== undefined && env.ROUTING_HEADERS !== '') {
    layer.routing = { routingHeaders: env.ROUTING_HEADERS === '1' || env.ROUTING_HEADERS === 'true' };
  }
  return layer;
}

/** `id:base64,id:base64` → {id: base64}; the first key is current unless SHARDGATE_ENCRYPTION_KEY_ID says otherwise. */
function parseKeyList(text: string): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const colon = part.indexOf(':');
    if (colon <= 0) throw new ConfigError('SHARDGATE_ENCRYPTION_KEYS must be a comma-separated list of id:base64key');
    keys[part.slice(0, colon)] = part.slice(colon + 1);
  }
  return keys;
}

const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;
/** the config-file keys whose strings are connection URLs: where `${env:NAME}` may appear */
const URL_KEYS = ['catalog', 'redis', 'shards'] as const;

/**
 * `${env:NAME}` in a connection URL of a config file: a password per cluster from its own
 * Secret, while the file (a ConfigMap) holds none. Only here, in files the operator wrote:
 * URLs from the admin API are taken as they are. The catalog's and Redis's URLs are
 * expanded here (URL-encoded). Shard URLs keep the reference — it is what the catalog
 * stores, and each gateway reads the variable when it opens the shard (`ShardSecrets`), so
 * a rotated password needs no catalog rewrite — but a variable not set fails here, at start.
 */
function expandEnvRefs(value: unknown, where: string, env: NodeJS.ProcessEnv, keep: boolean): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (ref: string, name: string) => {
      const v = env[name];
      if (v === undefined || v === '') throw new ConfigError(`${where}: \${env:${name}} names an environment variable that is not set`);
      return keep ? ref : encodeURIComponent(v);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnvRefs(v, `${where}[${i}]`, env, keep));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnvRefs(v, `${where}.${k}`, env, keep)]));
  return value;
}

const PASSWORD_SLOT = 'shardgate-password-slot';

/** The URL with the password (or a `${env:NAME}` reference to one) filled in when it has none. */
export function withPassword(url: string, password: string | undefined): string {
  if (!password) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password || !/^postgres(ql)?:$/.test(parsed.protocol)) return url;
    parsed.password = PASSWORD_SLOT;
    // a reference goes in as written (the URL class would escape its braces)
    return parsed.toString().replace(PASSWORD_SLOT, ENV_REF.test(password) ? password : encodeURIComponent(password));
  } catch {
    return url;
  } finally {
    ENV_REF.lastIndex = 0;
  }
}

function fillPasswords(value: unknown, password: string | undefined): unknown {
  if (typeof value === 'string') return value.includes('${env:') ? value : withPassword(value, password);
  if (Array.isArray(value)) return value.map((v) => fillPasswords(v, password));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillPasswords(v, password)]));
  return value;
}

/** The config files' URLs with `${env:NAME}` checked, and expanded except in shard URLs. */
function expandUrlRefs(layer: Json, env: NodeJS.ProcessEnv): Json {
  const out: Json = { ...layer };
  for (const key of URL_KEYS) if (key in out) out[key] = expandEnvRefs(out[key], key, env, key === 'shards');
  return out;
}

/**
 * PGPASSWORD (the older way: one password for every cluster) written into the configured
 * PostgreSQL URLs that still carry none: as itself into the catalog's, as the reference
 * `${env:PGPASSWORD}` into shard URLs. The entry point then takes PGPASSWORD out of the
 * environment (keeping its own snapshot for the references), so the driver never lends it
 * to a URL from anywhere else (a shard added through the admin API).
 */
function fillConfiguredPasswords(layer: Json, env: NodeJS.ProcessEnv): Json {
  const out: Json = { ...layer };
  if (!env.PGPASSWORD) return out;
  for (const key of URL_KEYS) if (key in out) out[key] = fillPasswords(out[key], key === 'shards' ? '${env:PGPASSWORD}' : env.PGPASSWORD);
  return out;
}

export interface LoadConfigOptions {
  /** extra layer applied after the environment (tests use it to point at their cluster) */
  readonly overrides?: Json;
  readonly configDir?: string;
}

/**
 * Builds the configuration once at the edge: `config/default.json` < `config/<NODE_ENV>.json`
 * < the `GATEWAY_CONFIG` file < environment variables < explicit overrides; validated and frozen.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadConfigOptions = {}): Readonly<GatewayConfig> {
  const dir = options.configDir ?? CONFIG_DIR;
  const nodeEnv = env.NODE_ENV ?? 'development';
  let merged = readJson(path.join(dir, 'default.json'));
  const envFile = path.join(dir, `${nodeEnv}.json`);
  if (existsSync(envFile)) merged = deepMerge(merged, readJson(envFile));
  if (env.GATEWAY_CONFIG) merged = deepMerge(merged, readJson(path.resolve(env.GATEWAY_CONFIG)));
  merged = fillConfiguredPasswords(deepMerge(expandUrlRefs(merged, env), envLayer(env)), env);
  if (env.SHARDGATE_ENCRYPTION_KEYS) {
    // keys from the environment replace the file's keyring (never merged with the dev key)
    const keys = parseKeyList(env.SHARDGATE_ENCRYPTION_KEYS);
    merged.encryption = { currentKeyId: env.SHARDGATE_ENCRYPTION_KEY_ID ?? Object.keys(keys)[0] ?? '', keys };
  }
  if (options.overrides) merged = deepMerge(merged, options.overrides);
  merged.nodeEnv = nodeEnv;

  const result = gatewayConfigShape.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return deepFreeze(result.data);
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Hides passwords in connection URLs so config can be logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}

function redactReplicas(replicas: ReadonlyArray<string | { readonly name: string; readonly url: string }>) {
  return replicas.map((r) => (typeof r === 'string' ? redactUrl(r) : { name: r.name, url: redactUrl(r.url) }));
}

/** A view of the config safe to print: no token, no passwords. */
export function describeConfig(config: Readonly<GatewayConfig>): Json {
  return {
    ...config,
    adminToken: config.adminToken === undefined ? undefined : '***',
    encryption: { currentKeyId: config.encryption.currentKeyId, keys: Object.fromEntries(Object.keys(config.encryption.keys).map((id) => [id, '***'])) },
    catalog: config.catalog === undefined ? undefined : redactUrl(config.catalog),
    redis: config.redis === undefined ? undefined : redactUrl(config.redis),
    limits: { ...config.limits, redis: config.limits.redis === undefined ? undefined : redactUrl(config.limits.redis) },
    shards: config.shards.map((s) => ({
      ...s,
      primary: redactUrl(s.primary),
      replicas: redactReplicas(s.replicas),
      ...(s.admin === undefined ? {} : { admin: { primary: redactUrl(s.admin.primary), replicas: redactReplicas(s.admin.replicas) } }),
    })),
  };
}
