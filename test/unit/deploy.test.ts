/**
 * Static checks of what ships: the Dockerfile and the Kubernetes manifests under k8s/.
 * No network: `kubectl kustomize` only reads local files (those tests skip when kubectl is
 * not installed, and fail under CI=true), built-in kinds are validated with kubernetes-models' JSON schemas, the
 * CloudNativePG objects (Cluster, ScheduledBackup, the Barman Cloud plugin's
 * ObjectStore) and the collector config by hand, and the gateway config in the
 * ConfigMap by the gateway's own loader.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { IConfigMap, IContainer, IEnvVar, IPodSpec, IPodTemplateSpec, IProbe, ISecret, IService } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import type { IJob } from 'kubernetes-models/batch/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ShardSecrets } from '../../src/catalog/shard-secrets.js';
import { loadConfig } from '../../src/config/load-config.js';

const ROOT = path.resolve(__dirname, '..', '..');
const K8S = path.join(ROOT, 'k8s');
const OVERLAYS = ['dev', 'production'];
const GATEWAY = 'shardgate'; // the gateway Deployment's name
const DEFAULTS = JSON.parse(readFileSync(path.join(ROOT, 'config', 'default.json'), 'utf8')) as { port: number; adminPort: number };

// ------------------------------------------------------------------ helpers

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** One role of a Cluster's spec.managed.roles (CloudNativePG's RoleConfiguration). */
interface CnpgManagedRole {
  name: string;
  ensure?: string;
  comment?: string;
  login?: boolean;
  superuser?: boolean;
  createdb?: boolean;
  createrole?: boolean;
  inherit?: boolean;
  replication?: boolean;
  bypassrls?: boolean;
  connectionLimit?: number;
  validUntil?: string;
  disablePassword?: boolean;
  passwordSecret?: { name?: string };
  inRoles?: string[];
}

const MANAGED_ROLE_FIELDS = new Set([
  'name', 'ensure', 'comment', 'login', 'superuser', 'createdb', 'createrole', 'inherit', 'replication', 'bypassrls',
  'connectionLimit', 'validUntil', 'disablePassword', 'passwordSecret', 'inRoles',
]);
const MANAGED_ROLE_FLAGS = ['login', 'superuser', 'createdb', 'createrole', 'inherit', 'replication', 'bypassrls', 'disablePassword'] as const;
/** The group role the shard migrations grant DML on tenant tables to (row-level security applies). */
const REQUEST_GROUP = 'shardgate_request';

interface CnpgCluster extends K8sObject {
  spec: {
    instances: number;
    managed?: { roles?: CnpgManagedRole[] };
    plugins?: CnpgPlugin[];
    backup?: { barmanObjectStore?: unknown };
    storage?: { size?: string };
    postgresql?: { parameters?: Record<string, unknown> };
    bootstrap?: {
      initdb?: {
        database?: string;
        owner?: string;
        secret?: { name?: string };
        postInitApplicationSQL?: string[];
        postInitTemplateSQL?: string[];
      };
    };
  };
}

/** One entry of a Cluster's spec.plugins (CloudNativePG's PluginConfiguration). */
interface CnpgPlugin {
  name: string;
  enabled?: boolean;
  isWALArchiver?: boolean;
  parameters?: Record<string, string>;
}

/** The Barman Cloud plugin (CNPG-I): WAL archive, base backups and recovery through an ObjectStore. */
const BARMAN_PLUGIN = 'barman-cloud.cloudnative-pg.io';

interface SecretKeySelector {
  name: string;
  key: string;
}

/** barmancloud.cnpg.io/v1 ObjectStore: where a cluster's WAL archive and base backups go. */
interface ObjectStore extends K8sObject {
  spec: {
    configuration: {
      destinationPath: string;
      endpointURL?: string;
      endpointCA?: SecretKeySelector;
      s3Credentials?: Record<string, SecretKeySelector | boolean>;
      azureCredentials?: Record<string, SecretKeySelector | boolean>;
      googleCredentials?: Record<string, SecretKeySelector | boolean>;
      wal?: { compression?: string; encryption?: string; maxParallel?: number };
      data?: { compression?: string; encryption?: string; jobs?: number; immediateCheckpoint?: boolean };
    };
    retentionPolicy?: string;
    instanceSidecarConfiguration?: Record<string, unknown>;
  };
}

/** postgresql.cnpg.io/v1 ScheduledBackup. */
interface ScheduledBackup extends K8sObject {
  spec: {
    schedule: string;
    cluster: { name: string };
    method?: string;
    pluginConfiguration?: { name: string; parameters?: Record<string, string> };
    immediate?: boolean;
    suspend?: boolean;
    backupOwnerReference?: string;
    target?: string;
  };
}

interface PodMonitor extends K8sObject {
  spec: { selector?: { matchLabels?: Record<string, string> }; podMetricsEndpoints?: { port?: string; path?: string; interval?: string }[] };
}

interface AlertRule {
  alert?: string;
  record?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface PrometheusRule extends K8sObject {
  spec: { groups?: { name?: string; rules?: AlertRule[] }[] };
}

type ModelClass = new (data: never) => { validate(): void };

/** Built-in kinds the manifests may use, each with its schema-validating model. */
const BUILT_IN: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap as unknown as ModelClass,
  'v1/Namespace': Namespace as unknown as ModelClass,
  'v1/Secret': Secret as unknown as ModelClass,
  'v1/Service': Service as unknown as ModelClass,
  'v1/ServiceAccount': ServiceAccount as unknown as ModelClass,
  'apps/v1/Deployment': Deployment as unknown as ModelClass,
  'batch/v1/Job': Job as unknown as ModelClass,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler as unknown as ModelClass,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as unknown as ModelClass,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy as unknown as ModelClass,
};

/** Custom resources (no schema in kubernetes-models): checked by hand. */
const CUSTOM: Record<string, (obj: K8sObject) => string[]> = {
  'postgresql.cnpg.io/v1/Cluster': (obj) => cnpgProblems(obj as CnpgCluster),
  'postgresql.cnpg.io/v1/ScheduledBackup': (obj) => scheduledBackupProblems(obj as ScheduledBackup),
  'barmancloud.cnpg.io/v1/ObjectStore': (obj) => objectStoreProblems(obj as ObjectStore),
  'monitoring.coreos.com/v1/PodMonitor': (obj) => podMonitorProblems(obj as PodMonitor),
  'monitoring.coreos.com/v1/PrometheusRule': (obj) => prometheusRuleProblems(obj as PrometheusRule),
};

function typeKey(obj: K8sObject): string {
  return `${obj.apiVersion}/${obj.kind}`;
}

function parseManifests(text: string, source: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as unknown;
    if (value !== null && value !== undefined) objects.push(value as K8sObject);
  }
  return objects;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) walk(full, out);
    else out.push(full);
  }
  return out;
}

/** The schema or hand-check problems of one object (empty when it is valid). */
function problemsOf(obj: K8sObject): string[] {
  const where = `${typeKey(obj)} ${obj.metadata?.name ?? '<no name>'}`;
  if (typeof obj.metadata?.name !== 'string' || obj.metadata.name === '') return [`${where}: metadata.name missing`];
  const Model = BUILT_IN[typeKey(obj)];
  if (Model) {
    try {
      new Model(obj as never).validate();
      return [];
    } catch (err) {
      return [`${where}: ${(err as Error).message}`];
    }
  }
  const check = CUSTOM[typeKey(obj)];
  if (check) return check(obj).map((p) => `${where}: ${p}`);
  return [`${where}: unknown kind (add its model to BUILT_IN, or a hand check to CUSTOM)`];
}

function cnpgProblems(obj: CnpgCluster): string[] {
  const problems: string[] = [];
  const spec = obj.spec;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(obj.metadata.name)) problems.push('metadata.name is not a DNS label');
  if (!spec || typeof spec !== 'object') return [...problems, 'spec missing'];
  if (!Number.isInteger(spec.instances) || spec.instances < 2) problems.push(`spec.instances must be an integer >= 2 (primary + replicas), got ${String(spec.instances)}`);
  if (typeof spec.storage?.size !== 'string') problems.push('spec.storage.size missing');
  const params = spec.postgresql?.parameters ?? {};
  // the CRD types parameters as map[string]string: a bare YAML number is rejected
  for (const [key, value] of Object.entries(params)) {
    if (typeof value !== 'string') problems.push(`spec.postgresql.parameters.${key} must be a string, got ${typeof value}`);
  }
  if (params.wal_level !== 'logical') problems.push('spec.postgresql.parameters.wal_level must be logical');
  // shards take part in two-phase transfers: PREPARE TRANSACTION fails where this is 0
  const required = ['max_replication_slots', 'max_wal_senders', ...(/(^|-)shard-\d/.test(obj.metadata.name) ? ['max_prepared_transactions'] : [])];
  for (const key of required) {
    if (!/^[1-9]\d*$/.test(String(params[key]))) problems.push(`spec.postgresql.parameters.${key} must be set (a positive integer as a string)`);
  }
  const initdb = spec.bootstrap?.initdb;
  if (!initdb?.database || !initdb.owner) problems.push('spec.bootstrap.initdb.database and .owner are required');
  if (!initdb?.secret?.name) problems.push("spec.bootstrap.initdb.secret.name is required (the owner's credential)");
  const managed = (spec as { managed?: unknown }).managed;
  if (managed !== undefined) problems.push(...managedRolesProblems(managed));
  problems.push(...pluginsProblems(spec));
  return problems;
}

const PLUGIN_FIELDS = new Set(['name', 'enabled', 'isWALArchiver', 'parameters']);

/** spec.plugins as the CRD and the operator's webhook take it: at most one WAL archiver, and not beside the in-tree barmanObjectStore. */
function pluginsProblems(spec: CnpgCluster['spec']): string[] {
  const plugins = (spec as { plugins?: unknown }).plugins;
  if (plugins === undefined) return [];
  if (!Array.isArray(plugins)) return ['spec.plugins must be a list'];
  const problems: string[] = [];
  const archivers: string[] = [];
  plugins.forEach((p: unknown, i) => {
    const at = `spec.plugins[${i}]`;
    if (!isPlainObject(p)) {
      problems.push(`${at} must be an object`);
      return;
    }
    for (const key of Object.keys(p)) if (!PLUGIN_FIELDS.has(key)) problems.push(`${at}: unknown field ${key}`);
    if (typeof p.name !== 'string' || p.name === '') problems.push(`${at}.name is required`);
    for (const flag of ['enabled', 'isWALArchiver']) if (p[flag] !== undefined && typeof p[flag] !== 'boolean') problems.push(`${at}.${flag} must be a boolean`);
    problems.push(...stringMapProblems(p.parameters, `${at}.parameters`));
    if (p.enabled !== false && p.isWALArchiver === true) archivers.push(String(p.name));
  });
  if (archivers.length > 1) problems.push(`more than one WAL archiver plugin: ${archivers.join(', ')}`);
  if (archivers.length > 0 && spec.backup?.barmanObjectStore !== undefined) problems.push('a WAL archiver plugin and spec.backup.barmanObjectStore exclude each other');
  return problems;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A map[string]string of a CRD (absent is fine). */
function stringMapProblems(value: unknown, at: string): string[] {
  if (value === undefined) return [];
  if (!isPlainObject(value)) return [`${at} must be a map of strings`];
  return Object.entries(value)
    .filter(([, v]) => typeof v !== 'string')
    .map(([k]) => `${at}.${k} must be a string`);
}

function unknownFields(value: Record<string, unknown>, known: readonly string[], at: string): string[] {
  return Object.keys(value)
    .filter((k) => !known.includes(k))
    .map((k) => `${at}: unknown field ${k}`);
}

function secretKeySelectorProblems(value: unknown, at: string): string[] {
  if (!isPlainObject(value) || typeof value.name !== 'string' || value.name === '' || typeof value.key !== 'string' || value.key === '') return [`${at} must be { name, key } of a Secret`];
  return unknownFields(value, ['name', 'key'], at);
}

/** A credentials block of an ObjectStore: Secret key selectors, and the flags that take the identity from the platform instead. */
function credentialsProblems(value: unknown, at: string, selectors: readonly string[], flags: readonly string[]): string[] {
  if (!isPlainObject(value)) return [`${at} must be an object`];
  const problems = unknownFields(value, [...selectors, ...flags], at);
  for (const key of selectors) if (value[key] !== undefined) problems.push(...secretKeySelectorProblems(value[key], `${at}.${key}`));
  for (const key of flags) if (value[key] !== undefined && typeof value[key] !== 'boolean') problems.push(`${at}.${key} must be a boolean`);
  return problems;
}

function stringListProblems(value: unknown, at: string): string[] {
  return value === undefined || (Array.isArray(value) && value.every((x) => typeof x === 'string')) ? [] : [`${at} must be a list of strings`];
}

function positiveIntegerProblems(value: unknown, at: string): string[] {
  return value === undefined || (Number.isInteger(value) && (value as number) >= 1) ? [] : [`${at} must be an integer >= 1`];
}

function enumProblems(value: unknown, allowed: readonly string[], at: string): string[] {
  return value === undefined || allowed.includes(value as string) ? [] : [`${at} must be one of ${allowed.join(', ')}, got ${String(value)}`];
}

const OBJECT_STORE_RETENTION = /^[1-9][0-9]*[dwm]$/;

/** The ObjectStore CRD of the Barman Cloud plugin (barmancloud.cnpg.io/v1), by hand. */
function objectStoreProblems(obj: ObjectStore): string[] {
  const problems: string[] = [];
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(obj.metadata.name)) problems.push('metadata.name is not a DNS label');
  const spec = obj.spec as unknown;
  if (!isPlainObject(spec)) return [...problems, 'spec missing'];
  problems.push(...unknownFields(spec, ['configuration', 'retentionPolicy', 'instanceSidecarConfiguration'], 'spec'));
  const conf = spec.configuration;
  if (!isPlainObject(conf)) return [...problems, 'spec.configuration is required'];
  const at = 'spec.configuration';
  problems.push(
    ...unknownFields(conf, ['destinationPath', 'endpointURL', 'endpointCA', 's3Credentials', 'azureCredentials', 'googleCredentials', 'wal', 'data', 'tags', 'historyTags', 'serverName'], at),
  );
  // the CRD refuses it: the folder is the Cluster's plugin parameter serverName (default: the Cluster's name)
  if (conf.serverName !== undefined) problems.push(`${at}.serverName is forbidden (use the serverName plugin parameter of the Cluster)`);
  if (typeof conf.destinationPath !== 'string' || !/^(s3|gs):\/\/[^/\s]+|^https:\/\/[^/\s]+/.test(conf.destinationPath)) {
    problems.push(`${at}.destinationPath must be s3://bucket[/path], gs://bucket[/path] or an Azure https:// URL`);
  }
  if (conf.endpointURL !== undefined && (typeof conf.endpointURL !== 'string' || !URL.canParse(conf.endpointURL))) problems.push(`${at}.endpointURL must be a URL`);
  if (conf.endpointCA !== undefined) problems.push(...secretKeySelectorProblems(conf.endpointCA, `${at}.endpointCA`));
  const providers = (['s3Credentials', 'azureCredentials', 'googleCredentials'] as const).filter((k) => conf[k] !== undefined);
  if (providers.length !== 1) problems.push(`${at}: exactly one of s3Credentials, azureCredentials, googleCredentials (got ${providers.length})`);
  if (conf.s3Credentials !== undefined) problems.push(...credentialsProblems(conf.s3Credentials, `${at}.s3Credentials`, ['accessKeyId', 'secretAccessKey', 'region', 'sessionToken'], ['inheritFromIAMRole']));
  if (conf.azureCredentials !== undefined) {
    problems.push(...credentialsProblems(conf.azureCredentials, `${at}.azureCredentials`, ['connectionString', 'storageAccount', 'storageKey', 'storageSasToken'], ['inheritFromAzureAD', 'useDefaultAzureCredentials']));
  }
  if (conf.googleCredentials !== undefined) problems.push(...credentialsProblems(conf.googleCredentials, `${at}.googleCredentials`, ['applicationCredentials'], ['gkeEnvironment']));
  problems.push(...stringMapProblems(conf.tags, `${at}.tags`), ...stringMapProblems(conf.historyTags, `${at}.historyTags`));
  const encryption = ['AES256', 'aws:kms'];
  if (conf.wal !== undefined) {
    const wal = conf.wal;
    if (!isPlainObject(wal)) problems.push(`${at}.wal must be an object`);
    else {
      problems.push(...unknownFields(wal, ['compression', 'encryption', 'maxParallel', 'archiveAdditionalCommandArgs', 'restoreAdditionalCommandArgs'], `${at}.wal`));
      problems.push(...enumProblems(wal.compression, ['bzip2', 'gzip', 'lz4', 'snappy', 'xz', 'zstd'], `${at}.wal.compression`));
      problems.push(...enumProblems(wal.encryption, encryption, `${at}.wal.encryption`), ...positiveIntegerProblems(wal.maxParallel, `${at}.wal.maxParallel`));
      for (const k of ['archiveAdditionalCommandArgs', 'restoreAdditionalCommandArgs']) problems.push(...stringListProblems(wal[k], `${at}.wal.${k}`));
    }
  }
  if (conf.data !== undefined) {
    const data = conf.data;
    if (!isPlainObject(data)) problems.push(`${at}.data must be an object`);
    else {
      problems.push(...unknownFields(data, ['compression', 'encryption', 'immediateCheckpoint', 'jobs', 'additionalCommandArgs', 'restoreAdditionalCommandArgs'], `${at}.data`));
      // base backups: no xz or zstd (WAL only)
      problems.push(...enumProblems(data.compression, ['bzip2', 'gzip', 'lz4', 'snappy'], `${at}.data.compression`));
      problems.push(...enumProblems(data.encryption, encryption, `${at}.data.encryption`), ...positiveIntegerProblems(data.jobs, `${at}.data.jobs`));
      if (data.immediateCheckpoint !== undefined && typeof data.immediateCheckpoint !== 'boolean') problems.push(`${at}.data.immediateCheckpoint must be a boolean`);
      for (const k of ['additionalCommandArgs', 'restoreAdditionalCommandArgs']) problems.push(...stringListProblems(data[k], `${at}.data.${k}`));
    }
  }
  if (spec.retentionPolicy !== undefined && (typeof spec.retentionPolicy !== 'string' || !OBJECT_STORE_RETENTION.test(spec.retentionPolicy))) {
    problems.push(`spec.retentionPolicy must be <n>d, <n>w or <n>m, got ${String(spec.retentionPolicy)}`);
  }
  const sidecar = spec.instanceSidecarConfiguration;
  if (sidecar !== undefined) {
    if (!isPlainObject(sidecar)) problems.push('spec.instanceSidecarConfiguration must be an object');
    else {
      problems.push(...unknownFields(sidecar, ['env', 'retentionPolicyIntervalSeconds', 'resources', 'additionalContainerArgs', 'logLevel'], 'spec.instanceSidecarConfiguration'));
      problems.push(...enumProblems(sidecar.logLevel, ['error', 'warning', 'info', 'debug', 'trace'], 'spec.instanceSidecarConfiguration.logLevel'));
      problems.push(...positiveIntegerProblems(sidecar.retentionPolicyIntervalSeconds, 'spec.instanceSidecarConfiguration.retentionPolicyIntervalSeconds'));
      problems.push(...stringListProblems(sidecar.additionalContainerArgs, 'spec.instanceSidecarConfiguration.additionalContainerArgs'));
      if (sidecar.resources !== undefined) problems.push(...resourcesProblems(sidecar.resources, 'spec.instanceSidecarConfiguration.resources'));
    }
  }
  return problems;
}

/** A container's resources: requests and limits of cpu and memory as quantities. */
function resourcesProblems(value: unknown, at: string): string[] {
  if (!isPlainObject(value)) return [`${at} must be an object`];
  const problems = unknownFields(value, ['requests', 'limits'], at);
  for (const kind of ['requests', 'limits']) {
    const list = value[kind];
    if (list === undefined) continue;
    if (!isPlainObject(list)) {
      problems.push(`${at}.${kind} must be an object`);
      continue;
    }
    for (const [name, quantity] of Object.entries(list)) {
      if (!['cpu', 'memory', 'ephemeral-storage'].includes(name)) problems.push(`${at}.${kind}: unknown resource ${name}`);
      if (!/^\d+(\.\d+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/.test(String(quantity))) problems.push(`${at}.${kind}.${name} is not a quantity: ${String(quantity)}`);
    }
  }
  return problems;
}

/** The fields of a robfig/cron schedule with seconds (CloudNativePG's ScheduledBackup), with their ranges. */
const CRON_FIELDS = [
  { name: 'seconds', min: 0, max: 59 },
  { name: 'minutes', min: 0, max: 59 },
  { name: 'hours', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 6 },
] as const;

/** Problems of a six-field cron expression (seconds first), as github.com/robfig/cron parses it. */
function cronProblems(schedule: unknown): string[] {
  if (typeof schedule !== 'string') return ['spec.schedule is required'];
  const fields = schedule.trim().split(/\s+/);
  // the webhook only warns on five fields, which are read seconds first: a CronJob's "0 2 * * *" is second 0 of minute 2 of every hour
  if (fields.length !== 6) return [`spec.schedule must have six fields, seconds first (got ${fields.length}: ${schedule})`];
  const problems: string[] = [];
  fields.forEach((field, i) => {
    const { name, min, max } = CRON_FIELDS[i]!;
    for (const part of field.split(',')) {
      const m = /^(\*|\?|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
      const inRange = (v: string | undefined) => v === undefined || (Number(v) >= min && Number(v) <= max);
      const ok = m !== null && (m[1] !== '?' || i === 3 || i === 5) && inRange(m[2]) && inRange(m[3]) && (m[4] === undefined || Number(m[4]) > 0);
      if (!ok) problems.push(`spec.schedule: ${name} field "${field}" is not ${min}-${max}, *, a list, a range or a step`);
    }
  });
  return problems;
}

function scheduledBackupProblems(obj: ScheduledBackup): string[] {
  const problems: string[] = [];
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(obj.metadata.name)) problems.push('metadata.name is not a DNS name');
  const spec = obj.spec as unknown;
  if (!isPlainObject(spec)) return [...problems, 'spec missing'];
  problems.push(
    ...unknownFields(spec, ['suspend', 'immediate', 'schedule', 'cluster', 'backupOwnerReference', 'target', 'method', 'pluginConfiguration', 'online', 'onlineConfiguration'], 'spec'),
  );
  problems.push(...cronProblems(spec.schedule));
  if (!isPlainObject(spec.cluster) || typeof spec.cluster.name !== 'string' || spec.cluster.name === '') problems.push('spec.cluster.name is required');
  for (const flag of ['suspend', 'immediate', 'online']) if (spec[flag] !== undefined && typeof spec[flag] !== 'boolean') problems.push(`spec.${flag} must be a boolean`);
  problems.push(...enumProblems(spec.backupOwnerReference, ['none', 'self', 'cluster'], 'spec.backupOwnerReference'));
  problems.push(...enumProblems(spec.target, ['primary', 'prefer-standby'], 'spec.target'));
  problems.push(...enumProblems(spec.method, ['barmanObjectStore', 'volumeSnapshot', 'plugin'], 'spec.method'));
  const plugin = spec.pluginConfiguration;
  if (plugin !== undefined) {
    if (!isPlainObject(plugin) || typeof plugin.name !== 'string' || plugin.name === '') problems.push('spec.pluginConfiguration.name is required');
    else problems.push(...unknownFields(plugin, ['name', 'parameters'], 'spec.pluginConfiguration'), ...stringMapProblems(plugin.parameters, 'spec.pluginConfiguration.parameters'));
  }
  // the default method is the deprecated in-tree barmanObjectStore
  if (spec.method === 'plugin' && plugin === undefined) problems.push('method plugin needs spec.pluginConfiguration');
  if (spec.method !== 'plugin' && plugin !== undefined) problems.push('spec.pluginConfiguration without method: plugin is ignored');
  if (spec.method !== 'volumeSnapshot' && (spec.online !== undefined || spec.onlineConfiguration !== undefined)) problems.push('online and onlineConfiguration are for method volumeSnapshot only');
  return problems;
}

function managedRolesProblems(managed: unknown): string[] {
  const problems: string[] = [];
  if (typeof managed !== 'object' || managed === null || Array.isArray(managed)) return ['spec.managed must be an object'];
  const unknownKeys = Object.keys(managed).filter((k) => !['roles', 'services'].includes(k));
  if (unknownKeys.length > 0) problems.push(`spec.managed: unknown fields ${unknownKeys.join(', ')}`);
  const roles = (managed as { roles?: unknown }).roles;
  if (roles === undefined) return problems;
  if (!Array.isArray(roles)) return [...problems, 'spec.managed.roles must be a list'];
  const names = new Set<string>();
  roles.forEach((r: unknown, i) => {
    const at = `spec.managed.roles[${i}]`;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      problems.push(`${at} must be an object`);
      return;
    }
    const role = r as Record<string, unknown>;
    for (const key of Object.keys(role)) if (!MANAGED_ROLE_FIELDS.has(key)) problems.push(`${at}: unknown field ${key}`);
    if (typeof role.name !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(role.name)) problems.push(`${at}.name must be a PostgreSQL role name`);
    else if (names.has(role.name)) problems.push(`${at}: role ${role.name} declared twice`);
    else names.add(role.name);
    if (role.ensure !== undefined && role.ensure !== 'present' && role.ensure !== 'absent') problems.push(`${at}.ensure must be present or absent`);
    if (role.comment !== undefined && typeof role.comment !== 'string') problems.push(`${at}.comment must be a string`);
    for (const flag of MANAGED_ROLE_FLAGS) if (role[flag] !== undefined && typeof role[flag] !== 'boolean') problems.push(`${at}.${flag} must be a boolean`);
    if (role.connectionLimit !== undefined && (!Number.isInteger(role.connectionLimit) || (role.connectionLimit as number) < -1)) {
      problems.push(`${at}.connectionLimit must be an integer >= -1`);
    }
    if (role.validUntil !== undefined && (typeof role.validUntil !== 'string' || Number.isNaN(Date.parse(role.validUntil)))) problems.push(`${at}.validUntil must be a timestamp`);
    if (role.inRoles !== undefined && (!Array.isArray(role.inRoles) || !role.inRoles.every((x) => typeof x === 'string'))) problems.push(`${at}.inRoles must be a list of role names`);
    const secret = role.passwordSecret as { name?: unknown } | undefined;
    if (secret !== undefined && (typeof secret !== 'object' || secret === null || typeof secret.name !== 'string' || Object.keys(secret).some((k) => k !== 'name'))) {
      problems.push(`${at}.passwordSecret must be { name }`);
    }
    if (secret !== undefined && role.disablePassword === true) problems.push(`${at}: passwordSecret and disablePassword exclude each other`);
  });
  return problems;
}

/** The Secrets a Cluster reads credentials from: its owner's bootstrap secret and its managed roles' passwordSecrets. */
function clusterSecrets(cluster: CnpgCluster): { name: string; role: string }[] {
  const out: { name: string; role: string }[] = [];
  const initdb = cluster.spec.bootstrap?.initdb;
  if (initdb?.secret?.name && initdb.owner) out.push({ name: initdb.secret.name, role: initdb.owner });
  for (const r of cluster.spec.managed?.roles ?? []) if (r.passwordSecret?.name) out.push({ name: r.passwordSecret.name, role: r.name });
  return out;
}

/** The Secret keys an ObjectStore reads: its credentials and its endpoint CA. */
function objectStoreSecretRefs(store: ObjectStore): SecretKeySelector[] {
  const conf = store.spec.configuration;
  const blocks = [conf.s3Credentials, conf.azureCredentials, conf.googleCredentials].filter((b) => b !== undefined);
  const refs = blocks.flatMap((b) => Object.values(b).filter((v): v is SecretKeySelector => typeof v === 'object' && v !== null));
  return conf.endpointCA ? [...refs, conf.endpointCA] : refs;
}

/** The Barman Cloud plugin entry of a Cluster that archives its WAL, if any (enabled, isWALArchiver). */
function walArchiver(cluster: CnpgCluster): CnpgPlugin | undefined {
  return (cluster.spec.plugins ?? []).find((p) => p.enabled !== false && p.isWALArchiver === true);
}

/** A retention policy (<n>d, <n>w, <n>m) in days, a month counted as 30. */
function retentionDays(policy: string): number {
  const m = OBJECT_STORE_RETENTION.exec(policy);
  expect(m, `retention policy ${policy}`).to.not.equal(null);
  return Number(policy.slice(0, -1)) * { d: 1, w: 7, m: 30 }[policy.slice(-1) as 'd' | 'w' | 'm'];
}

/** The `${env:NAME}` names a config file's strings reference. */
function envRefsIn(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (typeof value === 'string') for (const m of value.matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g)) out.add(m[1]!);
  else if (Array.isArray(value)) for (const v of value) envRefsIn(v, out);
  else if (typeof value === 'object' && value !== null) for (const v of Object.values(value)) envRefsIn(v, out);
  return out;
}

function podMonitorProblems(obj: PodMonitor): string[] {
  const problems: string[] = [];
  if (!obj.spec?.selector?.matchLabels || Object.keys(obj.spec.selector.matchLabels).length === 0) problems.push('spec.selector.matchLabels is required');
  const endpoints = obj.spec?.podMetricsEndpoints ?? [];
  if (endpoints.length === 0) problems.push('spec.podMetricsEndpoints is empty');
  for (const e of endpoints) if (typeof e.port !== 'string') problems.push('every podMetricsEndpoint names its port');
  return problems;
}

const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;

function prometheusRuleProblems(obj: PrometheusRule): string[] {
  const problems: string[] = [];
  const groups = obj.spec?.groups ?? [];
  if (groups.length === 0) problems.push('spec.groups is empty');
  for (const g of groups) {
    if (!g.name) problems.push('a group without a name');
    for (const r of g.rules ?? []) {
      const id = r.alert ?? r.record ?? '<unnamed>';
      if (!r.alert === !r.record) problems.push(`${id}: a rule is either an alert or a record`);
      if (typeof r.expr !== 'string' || r.expr.trim() === '') problems.push(`${id}: expr missing`);
      if (r.for !== undefined && !DURATION.test(r.for)) problems.push(`${id}: for=${r.for} is not a duration`);
      if (r.alert && !['critical', 'warning', 'info'].includes(r.labels?.severity ?? '')) problems.push(`${id}: labels.severity must be critical, warning or info`);
      if (r.alert && !r.annotations?.summary) problems.push(`${id}: annotations.summary missing`);
    }
  }
  return problems;
}

function createsHstore(cluster: CnpgCluster): boolean {
  const initdb = cluster.spec.bootstrap?.initdb;
  const sql = [...(initdb?.postInitApplicationSQL ?? []), ...(initdb?.postInitTemplateSQL ?? [])];
  return sql.some((s) => /create\s+extension\s+if\s+not\s+exists\s+"?hstore"?/i.test(s));
}

/**
 * A missing tool skips its tests on a developer's machine; under CI=true it fails them,
 * so a CI machine without it cannot pass silently (.ci/run installs both).
 */
function skipUnlessCi(ctx: Mocha.Context, tool: string): void {
  if (process.env.CI === 'true') expect.fail(`${tool} is not installed (CI=true: .ci/run must install it)`);
  ctx.skip();
}

function kubectlAvailable(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

function kustomize(dir: string): K8sObject[] {
  const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000, maxBuffer: 32 * 1024 * 1024 });
  return parseManifests(out, `kubectl kustomize ${path.relative(ROOT, dir)}`);
}

function find<T>(objects: K8sObject[], kind: string, name: string): T {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  expect(found, `${kind} ${name}`).to.have.length(1);
  return found[0] as unknown as T;
}

function podSpec(template: IPodTemplateSpec | undefined): IPodSpec {
  expect(template?.spec, 'pod template spec').to.be.an('object');
  return template!.spec!;
}

/** A named or numbered container port, as a number. */
function resolvePort(c: IContainer, port: string | number | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

function probePath(c: IContainer, probe: IProbe | undefined): { path?: string; port?: number } {
  expect(probe?.httpGet, 'an httpGet probe').to.be.an('object');
  return { path: probe!.httpGet!.path, port: resolvePort(c, probe!.httpGet!.port) };
}

function labelsMatch(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** A label selector as the API server reads it: `{}` selects everything; matchExpressions included. */
function selectorMatches(selector: Selector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => l[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every((e) => {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    switch (e.operator) {
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
      case 'In':
        return has && (e.values ?? []).includes(l[e.key]!);
      case 'NotIn':
        return !has || !(e.values ?? []).includes(l[e.key]!);
      default:
        return false;
    }
  });
  return byLabels && byExpressions;
}

/** The labels CloudNativePG puts on a Cluster's PostgreSQL instance pods. */
function cnpgInstanceLabels(cluster: CnpgCluster): Record<string, string> {
  return { 'cnpg.io/cluster': cluster.metadata.name, 'cnpg.io/podRole': 'instance' };
}

/** NetworkPolicies of one type whose podSelector takes in pods with these labels. */
function policiesOn(objects: K8sObject[], labels: Record<string, string> | undefined, type: 'Ingress' | 'Egress'): INetworkPolicy[] {
  return (objects.filter((o) => o.kind === 'NetworkPolicy') as unknown as INetworkPolicy[]).filter((p) => {
    const types = p.spec?.policyTypes ?? (p.spec?.egress ? ['Ingress', 'Egress'] : ['Ingress']);
    return types.includes(type) && selectorMatches(p.spec?.podSelector as Selector, labels);
  });
}

/** A peer (from/to) that takes in pods with these labels in the policy's own namespace. */
function peerSelectsLocalPods(peer: { podSelector?: unknown; namespaceSelector?: unknown; ipBlock?: unknown }, labels: Record<string, string> | undefined): boolean {
  return peer.namespaceSelector === undefined && peer.ipBlock === undefined && selectorMatches(peer.podSelector as Selector, labels);
}

/** A rule's ports as numbers and protocols (named ports resolved against the destination container, if given). */
function rulePorts(ports: { port?: number | string; protocol?: string }[] | undefined, c?: IContainer): { port?: number; protocol: string }[] {
  return (ports ?? []).map((p) => ({ port: typeof p.port === 'string' && c ? resolvePort(c, p.port) : (p.port as number | undefined), protocol: p.protocol ?? 'TCP' }));
}

/** Environment variable names the app reads (src/**), so a misspelt name in a manifest fails. */
function envNamesReadByApp(): Set<string> {
  const names = new Set<string>();
  for (const file of walk(path.join(ROOT, 'src')).filter((f) => f.endsWith('.ts'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/env(?:\.([A-Z][A-Z0-9_]*)|\[['"]([A-Z][A-Z0-9_]*)['"]\])/g)) names.add((m[1] ?? m[2])!);
  }
  return names;
}

/** The env a pod would see with placeholder secrets, for the gateway's own config loader. */
function podEnv(env: IEnvVar[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env ?? []) {
    if (e.value !== undefined) out[e.name] = e.value.replace(/\$\(([A-Z0-9_]+)\)/g, (_m, name: string) => out[name] ?? '');
    else if (e.valueFrom?.secretKeyRef) {
      const key = e.valueFrom.secretKeyRef.key;
      out[e.name] = key === 'encryption-keys' ? `k1:${randomBytes(32).toString('base64')}` : `placeholder-${key}-${randomBytes(8).toString('hex')}`;
    } else if (e.valueFrom?.fieldRef) out[e.name] = 'from-downward-api';
  }
  return out;
}

// ------------------------------------------------------------------ Dockerfile parsing

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** Instructions with line continuations joined and comments dropped (no heredocs here). */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('#') || (buf === '' && line === '')) return;
    if (buf === '') start = i + 1;
    if (line.endsWith('\\')) {
      buf += line.slice(0, -1) + ' ';
      return;
    }
    buf += line;
    const m = /^(\S+)\s*([\s\S]*)$/.exec(buf)!;
    out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
    buf = '';
  });
  return out;
}

/** FROM-delimited stages: { name, instructions }. */
function stagesOf(instructions: Instruction[]): { name: string; from: string; body: Instruction[] }[] {
  const stages: { name: string; from: string; body: Instruction[] }[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      const asIndex = parts.findIndex((p) => p.toUpperCase() === 'AS');
      stages.push({ name: asIndex >= 0 ? parts[asIndex + 1]! : String(stages.length), from: parts[0]!, body: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1]!.body.push(ins);
    }
  }
  return stages;
}

function execForm(ins: Instruction | undefined, what: string): string[] {
  expect(ins, what).to.not.equal(undefined);
  let parsed: unknown;
  try {
    parsed = JSON.parse(ins!.args);
  } catch {
    parsed = undefined;
  }
  expect(Array.isArray(parsed) && parsed.every((a) => typeof a === 'string'), `${what} in exec (JSON) form, so signals reach node: ${ins!.args}`).to.equal(true);
  return parsed as string[];
}

/** From `node [flags] script`: the --import modules and the script. */
function nodeInvocation(argv: string[]): { imports: string[]; script?: string } {
  const at = argv.findIndex((a) => a === 'node' || a.endsWith('/node'));
  expect(at, `runs node: ${argv.join(' ')}`).to.be.greaterThan(-1);
  const imports: string[] = [];
  for (let i = at + 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--import' || arg === '--require' || arg === '-r') imports.push(argv[++i]!);
    else if (arg.startsWith('--import=')) imports.push(arg.slice('--import='.length));
    else if (!arg.startsWith('-')) return { imports, script: arg };
  }
  return { imports };
}

function dockerignorePatterns(): RegExp[] {
  return readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('!'))
    .map((p) => {
      const body = p
        .replace(/^\/+|\/+$/g, '')
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*/g, '__GLOBSTAR__')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')
        .replace(/__GLOBSTAR__/g, '.*');
      return new RegExp(`^${body}$`);
    });
}

function isDockerignored(source: string, patterns: RegExp[]): boolean {
  const parts = path.posix.normalize(source).replace(/^\.\/|\/$/g, '').split('/');
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    if (patterns.some((re) => re.test(prefix))) return true;
  }
  return false;
}

// ------------------------------------------------------------------ the Dockerfile

describe('deploy: Dockerfile', () => {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const instructions = parseDockerfile(text);
  const stages = stagesOf(instructions);
  const final = stages[stages.length - 1]!;
  const last = (keyword: string) => final.body.filter((i) => i.keyword === keyword).at(-1);
  const workdir = last('WORKDIR')?.args ?? '/';

  it('passes the dockerfile-utils linter with no diagnostics', () => {
    const diagnostics = lintDockerfile(text);
    expect(diagnostics.map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).to.deep.equal([]);
  });

  it('is multi-stage: builds with dev dependencies, ships production dependencies and dist/ only', () => {
    expect(stages.length, 'stages').to.be.greaterThan(1);
    const runs = (stage: typeof final) => stage.body.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const build = stages.find((s) => runs(s).some((r) => /npm run build\b/.test(r)));
    expect(build, 'a stage that runs `npm run build`').to.not.equal(undefined);
    expect(runs(build!).some((r) => /npm ci\b/.test(r) && !/--omit=dev/.test(r)), 'the build stage installs dev dependencies').to.equal(true);
    expect(build, 'the build is not the shipped stage').to.not.equal(final);
    expect(runs(final).some((r) => /npm ci\b.*--omit=dev/.test(r)), 'the final stage installs with --omit=dev').to.equal(true);
    const fromBuild = final.body.filter((i) => i.keyword === 'COPY' && i.args.includes(`--from=${build!.name}`));
    expect(fromBuild.map((i) => i.args.split(/\s+/).filter((t) => !t.startsWith('--'))[0]), 'copied from the build stage').to.deep.equal(['/src/dist']);
  });

  it('pins the Node base by digest: NODE_DIGEST is a required build arg, without it the build stops at FROM', () => {
    const arg = instructions.find((i) => i.keyword === 'ARG' && /^NODE_DIGEST\b/.test(i.args));
    expect(arg?.args, 'ARG NODE_DIGEST without a default (a default would be a tag in disguise)').to.equal('NODE_DIGEST');
    expect(instructions.indexOf(arg!), 'declared before the first FROM').to.be.lessThan(instructions.findIndex((i) => i.keyword === 'FROM'));
    for (const stage of stages) {
      expect(stage.from, `stage ${stage.name}`).to.match(/^node@sha256:\$\{NODE_DIGEST:\?[\w-]*NODE_DIGEST[\w-]*\}$/);
    }
  });

  it('ships no dev tooling and no PGlite: npm ci --omit=dev --omit=optional, compiled JS run by node, tini pinned', () => {
    const npmCi = final.body.filter((i) => i.keyword === 'RUN' && /npm ci\b/.test(i.args)).map((i) => i.args);
    expect(npmCi, 'one npm ci in the final stage').to.have.length(1);
    expect(npmCi[0]).to.match(/--omit=dev\b/).and.to.match(/--omit=optional\b/);
    const argv = [...execForm(last('ENTRYPOINT'), 'ENTRYPOINT'), ...execForm(last('CMD'), 'CMD')];
    expect(argv.join(' '), 'no tsx at run time').to.not.match(/\btsx\b|\.ts\b/);
    expect(argv.filter((a) => /\.js$/.test(a)).every((a) => a.startsWith('/app/dist/')), 'runs dist/').to.equal(true);
    const tini = final.body.find((i) => i.keyword === 'RUN' && /\btini\b/.test(i.args))!;
    expect(tini.args, 'tini installed at a pinned version').to.match(/tini=\$\{?TINI_VERSION\}?|tini=\d/);
    const version = instructions.find((i) => i.keyword === 'ARG' && i.args.startsWith('TINI_VERSION='));
    expect(version?.args).to.match(/^TINI_VERSION=\d+\.\d+\.\d+(-\d+)?$/);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    expect(pkg.dependencies, 'tsx is a dev dependency').to.not.have.property('tsx');
    expect(pkg.devDependencies).to.have.property('tsx');
    expect(pkg.dependencies, 'PGlite is optional').to.not.have.property('@electric-sql/pglite');
    expect(pkg.optionalDependencies).to.have.property('@electric-sql/pglite');
    // loaded only by a dynamic import when the embedded default starts: a value import anywhere would load it always
    const staticUses = walk(path.join(ROOT, 'src'))
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/^import\s+(?!type\b)[^;]*from\s+'(@electric-sql\/pglite[^']*|tsx[^']*)'/gm)].map((m) => `${path.relative(ROOT, f)}: ${m[1]}`));
    expect(staticUses).to.deep.equal([]);
  });

  it('starts the gateway like `npm start`, with src/instrument imported first, under an init', () => {
    const entrypoint = execForm(last('ENTRYPOINT'), 'ENTRYPOINT');
    const cmd = execForm(last('CMD'), 'CMD');
    expect(entrypoint[0], 'PID 1 is an init that forwards signals').to.match(/(^|\/)(tini|dumb-init)$/);
    expect(final.body.some((i) => i.keyword === 'RUN' && /\btini\b/.test(i.args)), 'tini is installed in the final stage').to.equal(true);
    // the gateway drains on SIGTERM (or SIGINT); any other stop signal kills it mid-request
    const stop = last('STOPSIGNAL')?.args;
    if (stop !== undefined) expect(stop).to.be.oneOf(['SIGTERM', 'SIGINT', '15', '2']);
    const { imports, script } = nodeInvocation([...entrypoint, ...cmd]);
    expect(script && path.posix.resolve(workdir, script)).to.equal(path.posix.join(workdir, 'dist/src/main.js'));
    expect(imports.map((i) => path.posix.resolve(workdir, i))).to.include(path.posix.join(workdir, 'dist/src/instrument.js'));
    // dist/src/x.js is compiled from src/x.ts (tsconfig.build.json: rootDir ".", outDir "dist")
    expect(existsSync(path.join(ROOT, 'src', 'main.ts'))).to.equal(true);
    expect(existsSync(path.join(ROOT, 'src', 'instrument.ts'))).to.equal(true);
    const build = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: Record<string, unknown>; include: string[] };
    expect(build.compilerOptions).to.include({ outDir: 'dist', rootDir: '.', noEmit: false });
    expect(build.include).to.include('src/**/*.ts');
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).to.equal('tsc -p tsconfig.build.json');
    // the config dir is found by walking up from dist/: the image must carry config/
    const copies = final.body.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='));
    expect(copies.some((i) => /^config\b/.test(i.args.split(/\s+/).filter((t) => !t.startsWith('--'))[0] ?? ''))).to.equal(true);
  });

  it('exposes the tenant and admin ports of config/default.json', () => {
    const exposed = final.body.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map((p) => Number(p.split('/')[0])));
    expect(exposed.sort()).to.deep.equal([DEFAULTS.port, DEFAULTS.adminPort].sort());
    const env = final.body.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
    for (const [name, port] of [['PORT', DEFAULTS.port], ['ADMIN_PORT', DEFAULTS.adminPort]] as const) {
      const m = new RegExp(`\\b${name}=(\\d+)`).exec(env);
      if (m) expect(Number(m[1]), name).to.equal(port);
    }
  });

  it('runs as a non-root user', () => {
    const user = last('USER');
    expect(user, 'a USER in the final stage').to.not.equal(undefined);
    const name = user!.args.split(':')[0]!;
    expect(name).to.not.match(/^(root|0)$/);
  });

  it('bakes no secrets in: no ENV/ARG value for tokens, passwords or keys', () => {
    for (const ins of instructions.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) {
      for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) {
        if (/token|secret|passw|key/i.test(m[1]!)) expect(m[2], `line ${ins.line}: ${m[1]} has a value in the image`).to.match(/^("")?$/);
      }
    }
  });

  it('copies only files that exist and that .dockerignore lets through', () => {
    const patterns = dockerignorePatterns();
    const stageNames = new Set(stages.map((s) => s.name));
    const copies = instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD');
    expect(copies.length).to.be.greaterThan(0);
    for (const ins of copies) {
      const tokens = ins.args.split(/\s+/);
      const from = tokens.find((t) => t.startsWith('--from='))?.slice('--from='.length);
      const sources = tokens.filter((t) => !t.startsWith('--')).slice(0, -1);
      expect(sources.length, `line ${ins.line}: COPY needs a source and a destination`).to.be.greaterThan(0);
      if (from !== undefined) {
        expect(stageNames.has(from), `line ${ins.line}: --from=${from} names a stage`).to.equal(true);
        continue;
      }
      for (const source of sources) {
        expect(existsSync(path.join(ROOT, source)), `line ${ins.line}: ${source} exists`).to.equal(true);
        expect(isDockerignored(source, patterns), `line ${ins.line}: ${source} is excluded by .dockerignore`).to.equal(false);
      }
    }
  });

  it('.dockerignore keeps local state and build output out of the context', () => {
    const patterns = dockerignorePatterns();
    for (const p of ['node_modules', '.git', 'dist', '.data', '.cluster', '.cluster-test', '.env', 'test', 'coverage', 'bench/results']) {
      expect(isDockerignored(p, patterns), p).to.equal(true);
    }
  });
});

// ------------------------------------------------------------------ manifest files as written

describe('deploy: manifest files', () => {
  const yamlFiles = walk(K8S).filter((f) => /\.ya?ml$/.test(f));
  const isObject = (o: K8sObject) => typeof o?.apiVersion === 'string' && typeof o?.kind === 'string';
  // strategic-merge patches are partial objects: they are validated as part of the builds
  const patchFiles = new Set(
    yamlFiles
      .filter((f) => path.basename(f) === 'kustomization.yaml')
      .flatMap((f) => ((parseYaml(readFileSync(f, 'utf8')) as { patches?: { path?: string }[] }).patches ?? []).filter((p) => p.path).map((p) => path.resolve(path.dirname(f), p.path!))),
  );

  it('every YAML file under k8s/ parses, and every object in it validates', () => {
    expect(yamlFiles.length).to.be.greaterThan(10);
    const problems: string[] = [];
    for (const file of yamlFiles.filter((f) => !patchFiles.has(f))) {
      const objects = parseManifests(readFileSync(file, 'utf8'), file);
      for (const obj of objects.filter((o) => isObject(o) && !o.apiVersion.startsWith('kustomize.config.k8s.io/'))) problems.push(...problemsOf(obj).map((p) => `${path.relative(ROOT, file)}: ${p}`));
    }
    expect(problems).to.deep.equal([]);
  });

  it('the Secret templates hold placeholders only, never real values', () => {
    const secrets = walk(path.join(K8S, 'secrets'))
      .filter((f) => /\.ya?ml$/.test(f))
      .flatMap((f) => parseManifests(readFileSync(f, 'utf8'), f)) as unknown as ISecret[];
    expect(secrets.length).to.be.greaterThan(0);
    for (const s of secrets) {
      expect(s.kind).to.equal('Secret');
      expect(s.data, `${s.metadata?.name}: use stringData placeholders`).to.equal(undefined);
      for (const [key, value] of Object.entries(s.stringData ?? {})) {
        if (key === 'username') continue;
        expect(value, `${s.metadata?.name}.${key}`).to.include('REPLACE_ME');
      }
    }
  });

  it('passes yamllint (when installed; required under CI=true)', function () {
    try {
      execFileSync('yamllint', ['--version'], { stdio: 'ignore' });
    } catch {
      skipUnlessCi(this, 'yamllint');
    }
    try {
      execFileSync('yamllint', ['--strict', '--format', 'parsable', 'k8s'], { cwd: ROOT, encoding: 'utf8' });
    } catch (err) {
      expect.fail(`yamllint:\n${(err as { stdout?: string }).stdout ?? String(err)}`);
    }
  });
});

// ------------------------------------------------------------------ monitoring

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Metric names the gateway registers (src/telemetry/gateway-metrics.ts: `${PREFIX}name`). */
function gatewayMetricNames(): Set<string> {
  const file = path.join(ROOT, 'src', 'telemetry', 'gateway-metrics.ts');
  expect(existsSync(file), 'src/telemetry/gateway-metrics.ts (update this test if the metrics moved)').to.equal(true);
  const source = readFileSync(file, 'utf8');
  const prefix = /const PREFIX = '([a-z_]+)'/.exec(source)?.[1];
  expect(prefix, 'PREFIX in metrics.ts').to.be.a('string');
  return new Set([...source.matchAll(/\$\{PREFIX\}([a-z0-9_]+)/g)].map((m) => prefix + m[1]!));
}

describe('deploy: monitoring', () => {
  const dir = path.join(K8S, 'monitoring');
  const rules = parseManifests(readFileSync(path.join(dir, 'prometheusrule.yaml'), 'utf8'), 'prometheusrule.yaml') as PrometheusRule[];
  const alerts = rules.flatMap((r) => r.spec.groups ?? []).flatMap((g) => g.rules ?? []).filter((r) => r.alert);
  const dashboard = JSON.parse(readFileSync(path.join(dir, 'dashboard.json'), 'utf8')) as { uid?: string; panels: { type: string; title: string; targets?: { expr: string }[] }[] };
  const docs = readFileSync(path.join(ROOT, 'docs', 'operations.md'), 'utf8');

  it('every alert has its section in docs/operations.md, and runbook_url points at it', () => {
    expect(alerts.length).to.be.greaterThan(5);
    const anchors = new Set(docs.split('\n').filter((l) => /^#{1,6} /.test(l)).map((l) => githubSlug(l.replace(/^#+ /, ''))));
    for (const a of alerts) {
      const anchor = githubSlug(a.alert!);
      expect(anchors.has(anchor), `docs/operations.md has a "### ${a.alert}" section`).to.equal(true);
      expect(a.annotations?.runbook_url, `${a.alert} runbook_url`).to.equal(`docs/operations.md#${anchor}`);
    }
  });

  it('alerts and dashboard panels query only metrics the gateway registers (or CloudNativePG / kube-state-metrics ones)', () => {
    const defined = gatewayMetricNames();
    const exprs = [...alerts.map((a) => a.expr!), ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr))];
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.length).to.be.greaterThan(5);
    for (const p of panels) expect(p.targets ?? [], `panel "${p.title}" has queries`).to.have.length.greaterThan(0);
    const unknown = new Set<string>();
    for (const expr of exprs) {
      for (const [name] of expr.matchAll(/\bshardgate_[a-z0-9_]+/g)) {
        const base = name.replace(/_(bucket|count|sum)$/, '');
        if (!defined.has(name) && !defined.has(base)) unknown.add(name);
      }
    }
    expect([...unknown], 'metrics nobody exports').to.deep.equal([]);
    expect(dashboard.uid).to.be.a('string');
  });

  it('the gateway PodMonitor scrapes /metrics on the admin port of the gateway pods', () => {
    const monitors = parseManifests(readFileSync(path.join(dir, 'podmonitors.yaml'), 'utf8'), 'podmonitors.yaml') as PodMonitor[];
    const deployment = parseManifests(readFileSync(path.join(K8S, 'base', 'gateway', 'deployment.yaml'), 'utf8'), 'deployment.yaml')[0] as unknown as IDeployment;
    const template = deployment.spec!.template;
    const monitor = monitors.find((m) => labelsMatch(m.spec.selector?.matchLabels, template.metadata?.labels));
    expect(monitor, 'a PodMonitor selecting the gateway pods').to.not.equal(undefined);
    const gw = template.spec!.containers[0]!;
    const endpoint = monitor!.spec.podMetricsEndpoints![0]!;
    expect(resolvePort(gw, endpoint.port)).to.equal(DEFAULTS.adminPort);
    expect(endpoint.path ?? '/metrics').to.equal('/metrics');
    const production = parseYaml(readFileSync(path.join(K8S, 'overlays', 'production', 'kustomization.yaml'), 'utf8')) as { components?: string[] };
    expect(production.components, 'production includes the monitoring component').to.include('../../monitoring');
  });
});

// ------------------------------------------------------------------ kustomize builds

describe('deploy: kustomize overlays', function () {
  this.timeout(120_000);
  const hasKubectl = kubectlAvailable();
  const templates = walk(path.join(K8S, 'secrets'))
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap((f) => parseManifests(readFileSync(f, 'utf8'), f)) as unknown as ISecret[];

  for (const overlay of OVERLAYS) {
    describe(overlay, () => {
      let objects: K8sObject[] = [];
      let deployment: IDeployment;
      let spec: IPodSpec;
      let gateway: IContainer;

      before(function () {
        if (!hasKubectl) skipUnlessCi(this, 'kubectl');
        objects = kustomize(path.join(K8S, 'overlays', overlay));
        deployment = find<IDeployment>(objects, 'Deployment', GATEWAY);
        spec = podSpec(deployment.spec?.template);
        gateway = spec.containers[0]!;
      });

      it('builds, and every object validates (built-in kinds by schema, CloudNativePG by hand)', () => {
        expect(objects.length).to.be.greaterThan(10);
        expect(objects.flatMap(problemsOf)).to.deep.equal([]);
        const kinds = new Set(objects.map((o) => o.kind));
        for (const kind of ['Deployment', 'Service', 'ConfigMap', 'NetworkPolicy', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Job', 'Cluster']) {
          expect(kinds.has(kind), kind).to.equal(true);
        }
        const namespaces = new Set(objects.filter((o) => o.kind !== 'Namespace').map((o) => o.metadata.namespace));
        expect(namespaces.size, 'one namespace for everything').to.equal(1);
        expect([...namespaces][0]).to.be.a('string');
      });

      it('emits no Secret: Secrets are created out of band and never overwritten by an apply', () => {
        expect(objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name)).to.deep.equal([]);
      });

      it('gateway container ports are the app ports: 8080 tenant, 8081 admin', () => {
        expect(spec.containers.map((c) => c.name)).to.deep.equal(['gateway']);
        const ports = Object.fromEntries((gateway.ports ?? []).map((p) => [p.name, p.containerPort]));
        expect(ports).to.deep.equal({ http: DEFAULTS.port, admin: DEFAULTS.adminPort });
        const env = podEnv(gateway.env);
        if (env.PORT !== undefined) expect(Number(env.PORT)).to.equal(DEFAULTS.port);
        if (env.ADMIN_PORT !== undefined) expect(Number(env.ADMIN_PORT)).to.equal(DEFAULTS.adminPort);
        // the image's CMD starts the gateway (checked above), unless the manifest overrides it
        if (gateway.command || gateway.args) {
          const { imports, script } = nodeInvocation([...(gateway.command ?? []), ...(gateway.args ?? [])]);
          expect(script).to.match(/(^|\/)dist\/src\/main\.js$/);
          expect(imports.some((i) => /(^|\/)dist\/src\/instrument\.js$/.test(i))).to.equal(true);
        }
        const annotations = deployment.spec?.template.metadata?.annotations ?? {};
        expect(annotations['prometheus.io/scrape']).to.equal('true');
        expect(Number(annotations['prometheus.io/port']), 'metrics on the admin port').to.equal(DEFAULTS.adminPort);
        expect(annotations['prometheus.io/path']).to.equal('/metrics');
      });

      it('probes hit /healthz and /readyz on the gateway ports', () => {
        const appPorts = [DEFAULTS.port, DEFAULTS.adminPort];
        const liveness = probePath(gateway, gateway.livenessProbe);
        const readiness = probePath(gateway, gateway.readinessProbe);
        const startup = probePath(gateway, gateway.startupProbe);
        expect(liveness.path).to.equal('/healthz');
        expect(readiness.path).to.equal('/readyz');
        expect(startup.path).to.be.oneOf(['/healthz', '/readyz']);
        for (const p of [liveness, readiness, startup]) expect(p.port).to.be.oneOf(appPorts);
        // the Service that carries tenant traffic follows readiness on the tenant port
        expect(readiness.port).to.equal(DEFAULTS.port);
      });

      it('terminationGracePeriodSeconds covers the drain delay and grace the gateway is configured with', () => {
        // the gateway's own shutdown (Gateway.stop): drainDelayMs serving with /readyz 503,
        // then up to shutdownGraceMs for in-flight requests; a preStop sleep would come first
        const { http } = gatewayConfig(objects, spec, gateway).config;
        const preStop = gateway.lifecycle?.preStop;
        let preStopSeconds = 0;
        if (preStop?.exec?.command) {
          expect(preStop.exec.command[0], 'preStop is a plain sleep').to.match(/(^|\/)sleep$/);
          preStopSeconds = Number(preStop.exec.command[1]);
        }
        expect(Number.isFinite(preStopSeconds)).to.equal(true);
        // endpoint removal propagates asynchronously: something must keep serving meanwhile
        expect(preStopSeconds + http.drainDelayMs / 1000, 'seconds served after the pod starts terminating').to.be.at.least(3);
        const needed = preStopSeconds + (http.drainDelayMs + http.shutdownGraceMs) / 1000 + 5;
        expect(spec.terminationGracePeriodSeconds ?? 30).to.be.at.least(needed);
      });

      it('runs non-root with a read-only root filesystem, no privilege escalation, no capabilities', () => {
        for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
          const sc = c.securityContext ?? {};
          expect(sc.runAsNonRoot ?? spec.securityContext?.runAsNonRoot, `${c.name} runAsNonRoot`).to.equal(true);
          expect(sc.readOnlyRootFilesystem, `${c.name} readOnlyRootFilesystem`).to.equal(true);
          expect(sc.allowPrivilegeEscalation, `${c.name} allowPrivilegeEscalation`).to.equal(false);
          expect(sc.capabilities?.drop, `${c.name} drops capabilities`).to.include('ALL');
        }
        const uid = gateway.securityContext?.runAsUser ?? spec.securityContext?.runAsUser;
        expect(uid, 'a numeric non-root uid').to.be.a('number').and.not.equal(0);
        expect(spec.automountServiceAccountToken).to.equal(false);
        const tmp = gateway.volumeMounts?.find((m) => m.mountPath === '/tmp');
        expect(tmp, 'a writable /tmp').to.not.equal(undefined);
        expect(spec.volumes?.find((v) => v.name === tmp!.name)?.emptyDir, '/tmp is an emptyDir').to.be.an('object');
      });

      it('has resources, a rolling update that keeps capacity, and topology spread', () => {
        expect(gateway.resources?.requests).to.include.keys('cpu', 'memory');
        expect(gateway.resources?.limits).to.include.keys('memory');
        expect(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable).to.equal(0);
        const labels = deployment.spec?.template.metadata?.labels;
        const spread = spec.topologySpreadConstraints ?? [];
        expect(spread.map((t) => t.topologyKey)).to.include.members(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
        for (const t of spread) expect(labelsMatch(t.labelSelector?.matchLabels, labels), `spread on ${t.topologyKey} selects the gateway pods`).to.equal(true);
        expect(labelsMatch(deployment.spec?.selector.matchLabels, labels), 'the selector matches the pod labels').to.equal(true);
      });

      it('the HPA keeps at least two gateways and the PDB lets only one go at a time', () => {
        const hpas = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler') as unknown as IHorizontalPodAutoscaler[];
        const hpa = hpas.find((h) => h.spec?.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === GATEWAY);
        expect(hpa, 'an HPA on the gateway').to.not.equal(undefined);
        expect(hpa!.spec!.minReplicas).to.be.at.least(2);
        expect(hpa!.spec!.maxReplicas).to.be.at.least(hpa!.spec!.minReplicas!);
        // a replicas field would fight the HPA on every apply
        if (deployment.spec?.replicas !== undefined) expect(deployment.spec.replicas).to.be.at.least(2);
        const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget') as unknown as IPodDisruptionBudget[];
        const pdb = pdbs.find((p) => labelsMatch(p.spec?.selector?.matchLabels, deployment.spec?.template.metadata?.labels));
        expect(pdb, 'a PDB over the gateway pods').to.not.equal(undefined);
        expect(pdb!.spec!.maxUnavailable ?? 0).to.equal(1);
      });

      it('the tenant Service carries only the tenant port; the admin API has its own ClusterIP Service', () => {
        const labels = deployment.spec?.template.metadata?.labels;
        const services = (objects.filter((o) => o.kind === 'Service') as unknown as IService[]).filter((s) => labelsMatch(s.spec?.selector, labels));
        const target = (s: IService) => (s.spec?.ports ?? []).map((p) => resolvePort(gateway, p.targetPort ?? p.port));
        const tenant = services.filter((s) => target(s).includes(DEFAULTS.port));
        const admin = services.filter((s) => target(s).includes(DEFAULTS.adminPort));
        expect(tenant, 'one Service for the tenant API').to.have.length(1);
        expect(admin, 'one Service for the admin API').to.have.length(1);
        expect(tenant[0]).to.not.equal(admin[0]);
        expect(target(tenant[0]!)).to.deep.equal([DEFAULTS.port]);
        expect(target(admin[0]!)).to.deep.equal([DEFAULTS.adminPort]);
        expect(admin[0]!.spec?.type ?? 'ClusterIP').to.equal('ClusterIP');
        // every Service in the build selects some pods and targets a port they declare
        for (const s of objects.filter((o) => o.kind === 'Service') as unknown as IService[]) {
          const pods = objects
            .filter((o) => o.kind === 'Deployment')
            .map((o) => (o as unknown as IDeployment).spec!.template)
            .filter((t) => labelsMatch(s.spec?.selector, t.metadata?.labels));
          expect(pods, `Service ${s.metadata?.name} selects one workload`).to.have.length(1);
          for (const p of s.spec?.ports ?? []) {
            const resolved = pods[0]!.spec!.containers.map((c) => resolvePort(c, p.targetPort ?? p.port)).filter((x) => x !== undefined);
            expect(resolved, `Service ${s.metadata?.name} port ${p.name} targets a container port`).to.have.length(1);
          }
        }
      });

      it('a NetworkPolicy restricts who reaches the admin port', () => {
        const labels = deployment.spec?.template.metadata?.labels;
        const policies = (objects.filter((o) => o.kind === 'NetworkPolicy') as unknown as INetworkPolicy[]).filter(
          (p) => labelsMatch(p.spec?.podSelector.matchLabels, labels) && (p.spec?.policyTypes ?? ['Ingress']).includes('Ingress'),
        );
        expect(policies.length, 'an ingress policy on the gateway pods').to.be.greaterThan(0);
        let adminRules = 0;
        for (const rule of policies.flatMap((p) => p.spec?.ingress ?? [])) {
          const ports = (rule.ports ?? []).map((p) => resolvePort(gateway, p.port));
          const coversAdmin = ports.length === 0 || ports.includes(DEFAULTS.adminPort);
          if (!coversAdmin) continue;
          adminRules++;
          expect(rule.from ?? [], 'a rule that admits the admin port names its sources').to.have.length.greaterThan(0);
          for (const peer of rule.from!) {
            const open = peer.ipBlock?.cidr === '0.0.0.0/0' || (peer.namespaceSelector !== undefined && Object.keys(peer.namespaceSelector).length === 0 && !peer.podSelector);
            expect(open, 'no peer that means "everyone"').to.equal(false);
          }
        }
        expect(adminRules, 'the admin port is reachable from somewhere (operators, Prometheus)').to.be.greaterThan(0);
      });

      it('the environment names only variables the app (or Node, OpenTelemetry, libpq) reads, in dependency order', () => {
        const known = envNamesReadByApp();
        // the config loader reads the variables gateway.json's URLs name as ${env:NAME}
        for (const name of envRefsIn(rawGatewayConfig(objects, spec, gateway))) known.add(name);
        for (const c of [gateway, ...objects.filter((o) => o.kind === 'Job').flatMap((j) => podSpec((j as unknown as IJob).spec?.template).containers)]) {
          const env = c.env ?? [];
          const referenced = new Set(env.flatMap((e) => [...(e.value ?? '').matchAll(/\$\(([A-Z0-9_]+)\)/g)].map((m) => m[1]!)));
          env.forEach((e, i) => {
            const ok = known.has(e.name) || referenced.has(e.name) || /^(OTEL_|PG)[A-Z_]+$/.test(e.name) || e.name === 'NODE_OPTIONS';
            expect(ok, `${c.name}: ${e.name} is read by nothing`).to.equal(true);
            for (const m of (e.value ?? '').matchAll(/\$\(([A-Z0-9_]+)\)/g)) {
              expect(env.slice(0, i).some((x) => x.name === m[1]), `${c.name}: ${e.name} uses $(${m[1]}) before it is defined`).to.equal(true);
            }
          });
        }
      });

      it('the ConfigMap gateway config is accepted by the gateway config loader, in production mode', () => {
        const { config } = gatewayConfig(objects, spec, gateway);
        expect(config.nodeEnv).to.equal('production');
        expect(config.port).to.equal(DEFAULTS.port);
        expect(config.adminPort).to.equal(DEFAULTS.adminPort);
        expect(config.catalog, 'a catalog: never the embedded default in Kubernetes').to.be.a('string');
        expect(config.shards.length).to.be.greaterThan(0);
        expect(config.redis).to.be.a('string');
      });

      it('the topology points at the CloudNativePG clusters: -rw for primaries, -ro for replicas', () => {
        const { config, env } = gatewayConfig(objects, spec, gateway);
        const raw = rawGatewayConfig(objects, spec, gateway);
        const clusters = new Map(objects.filter((o) => o.kind === 'Cluster').map((o) => [o.metadata.name, o as CnpgCluster]));
        const check = (url: string, suffix: '-rw' | '-ro', what: string): CnpgCluster => {
          const u = new URL(url);
          expect(u.hostname.endsWith(suffix), `${what} uses the ${suffix} service`).to.equal(true);
          const cluster = clusters.get(u.hostname.slice(0, -suffix.length));
          expect(cluster, `${what}: a Cluster behind ${u.hostname}`).to.not.equal(undefined);
          expect(u.pathname.slice(1), `${what}: database`).to.equal(cluster!.spec.bootstrap!.initdb!.database);
          expect(Number(u.port || 5432)).to.equal(5432);
          return cluster!;
        };
        check(raw.catalog!, '-rw', 'catalog');
        expect(config.shards.map((s) => s.id), 'the loader keeps the file shards').to.deep.equal((raw.shards ?? []).map((s) => s.id));
        for (const shard of raw.shards ?? []) {
          const primary = check(shard.primary, '-rw', `${shard.id} primary`);
          expect(shard.replicas?.length ?? 0, `${shard.id} has a replica URL`).to.be.greaterThan(0);
          for (const r of shard.replicas ?? []) {
            const replica = check(typeof r === 'string' ? r : r.url, '-ro', `${shard.id} replica`);
            expect(replica, `${shard.id}: primary and replicas of one cluster`).to.equal(primary);
          }
          expect(shard.admin, `${shard.id}: admin URLs (the owner role, for migrations and moves)`).to.be.an('object');
          expect(check(shard.admin!.primary, '-rw', `${shard.id} admin primary`), `${shard.id}: admin URLs reach the same cluster`).to.equal(primary);
          for (const r of shard.admin!.replicas ?? []) expect(check(typeof r === 'string' ? r : r.url, '-ro', `${shard.id} admin replica`)).to.equal(primary);
          expect(createsHstore(primary), `${shard.id}: the bootstrap creates hstore`).to.equal(true);
        }
        // every reference resolves in the pod's environment: the catalog's by the loader, the
        // shards' (kept as references, what the catalog stores) when a gateway opens the shard
        const secrets = new ShardSecrets({ k: Buffer.alloc(32).toString('base64') }, 'k', env);
        const shards = config.shards.map((s) => secrets.reveal(s));
        for (const url of [config.catalog!, ...shards.flatMap((s) => [s.primary, ...s.replicas.map((r) => (typeof r === 'string' ? r : r.url))])]) {
          expect(new URL(url).password, 'an expanded password').to.match(/^placeholder-password-/);
        }
      });

      it('every database URL names its password as ${env:NAME}, read from a Secret of that cluster for that role', () => {
        const raw = rawGatewayConfig(objects, spec, gateway);
        const clusters = new Map(objects.filter((o) => o.kind === 'Cluster').map((o) => [o.metadata.name, o as CnpgCluster]));
        const urls: [string, string][] = [['catalog', raw.catalog!]];
        for (const s of raw.shards ?? []) {
          const list = (r: RawShard['replicas']) => (r ?? []).map((x) => (typeof x === 'string' ? x : x.url));
          urls.push([`${s.id} primary`, s.primary], ...list(s.replicas).map((u): [string, string] => [`${s.id} replica`, u]));
          if (s.admin) urls.push([`${s.id} admin primary`, s.admin.primary], ...list(s.admin.replicas).map((u): [string, string] => [`${s.id} admin replica`, u]));
        }
        for (const [what, url] of urls) {
          const u = new URL(url);
          const cluster = clusters.get(u.hostname.replace(/-r[wo]$/, ''))!;
          expect(cluster, `${what}: a Cluster behind ${u.hostname}`).to.not.equal(undefined);
          const user = decodeURIComponent(u.username);
          const ref = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(decodeURIComponent(u.password));
          expect(ref, `${what}: the password is exactly a \${env:NAME} reference, never a value in a ConfigMap`).to.not.equal(null);
          const secretRef = gateway.env?.find((e) => e.name === ref![1])?.valueFrom?.secretKeyRef;
          expect(secretRef, `${what}: the gateway gets ${ref![1]} from a Secret`).to.not.equal(undefined);
          expect(secretRef!.key, `${what}: ${ref![1]}`).to.equal('password');
          const own = clusterSecrets(cluster).find((x) => x.name === secretRef!.name);
          expect(own, `${what}: ${ref![1]} comes from a Secret of ${cluster.metadata.name} (${secretRef!.name})`).to.not.equal(undefined);
          expect(own!.role, `${what}: the Secret is the credential of the role the URL logs in as`).to.equal(user);
        }
      });

      it('request URLs log in as a least-privilege managed role (member of shardgate_request); admin and catalog URLs as the owner', () => {
        const raw = rawGatewayConfig(objects, spec, gateway);
        const clusters = new Map(objects.filter((o) => o.kind === 'Cluster').map((o) => [o.metadata.name, o as CnpgCluster]));
        const parse = (url: string) => {
          const u = new URL(url);
          const cluster = clusters.get(u.hostname.replace(/-r[wo]$/, ''))!;
          return { cluster, user: decodeURIComponent(u.username), owner: cluster.spec.bootstrap!.initdb!.owner! };
        };
        const catalog = parse(raw.catalog!);
        expect(catalog.user, 'catalog: the owner').to.equal(catalog.owner);
        for (const s of raw.shards ?? []) {
          const urls = (primary: string, replicas: RawShard['replicas']) => [primary, ...(replicas ?? []).map((x) => (typeof x === 'string' ? x : x.url))];
          for (const url of urls(s.primary, s.replicas)) {
            const { cluster, user, owner } = parse(url);
            const what = `${s.id} request URL ${new URL(url).hostname}`;
            expect(user, `${what}: not the owner`).to.not.equal(owner);
            const roles = cluster.spec.managed?.roles ?? [];
            const role = roles.find((r) => r.name === user);
            expect(role, `${what}: ${user} is a managed role of ${cluster.metadata.name}`).to.not.equal(undefined);
            expect(role!.ensure ?? 'present', `${what}: ensure`).to.equal('present');
            expect(role!.login, `${what}: login`).to.equal(true);
            expect(role!.inRoles ?? [], `${what}: member of ${REQUEST_GROUP}`).to.include(REQUEST_GROUP);
            expect(role!.inherit ?? true, `${what}: inherits the group's grants`).to.equal(true);
            for (const flag of ['superuser', 'replication', 'bypassrls', 'createdb', 'createrole'] as const) {
              expect(role![flag] ?? false, `${what}: no ${flag}`).to.equal(false);
            }
            expect(role!.passwordSecret?.name, `${what}: a password from a Secret`).to.be.a('string');
            const group = roles.find((r) => r.name === REQUEST_GROUP);
            expect(group, `${cluster.metadata.name}: ${REQUEST_GROUP} is declared (the migrations grant it DML)`).to.not.equal(undefined);
            expect(group!.login ?? false, `${REQUEST_GROUP} cannot log in`).to.equal(false);
            for (const flag of ['superuser', 'replication', 'bypassrls'] as const) expect(group![flag] ?? false, `${REQUEST_GROUP}: no ${flag}`).to.equal(false);
          }
          for (const url of urls(s.admin!.primary, s.admin!.replicas)) {
            const { user, owner } = parse(url);
            expect(user, `${s.id} admin URL: the cluster owner`).to.equal(owner);
          }
        }
      });

      it('each cluster has its own credentials: no Secret serves two clusters or two roles', () => {
        const clusters = objects.filter((o) => o.kind === 'Cluster') as CnpgCluster[];
        const users = new Map<string, string>();
        for (const c of clusters) {
          for (const { name, role } of clusterSecrets(c)) {
            const where = `${c.metadata.name}/${role}`;
            expect(users.get(name), `Secret ${name} is read by ${users.get(name)} and ${where}`).to.equal(undefined);
            users.set(name, where);
          }
        }
        expect(users.size, 'credentials').to.be.at.least(clusters.length);
      });

      it('every CloudNativePG cluster refuses connections without TLS (pg_hba), as the gateway never makes one', () => {
        const clusters = objects.filter((o) => o.kind === 'Cluster') as Array<CnpgCluster & { spec: { postgresql?: { pg_hba?: string[] } } }>;
        expect(clusters.length).to.be.at.least(4);
        for (const c of clusters) expect(c.spec.postgresql?.pg_hba, c.metadata.name).to.include('hostnossl all all all reject');
      });

      it('no PGPASSWORD: the gateway drops it, and it would lend one password to every cluster', () => {
        for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'Job')) {
          for (const c of podSpec((o as unknown as IDeployment).spec?.template).containers) {
            expect((c.env ?? []).map((e) => e.name), `${o.metadata.name}/${c.name}`).to.not.include('PGPASSWORD');
          }
        }
      });

      it('a NetworkPolicy admits PostgreSQL connections to the instances only from the gateway, the migration Job and CloudNativePG', () => {
        const jobLabels = (objects.filter((o) => o.kind === 'Job') as unknown as IJob[]).map((j) => j.spec?.template.metadata?.labels);
        const gatewayLabels = deployment.spec?.template.metadata?.labels;
        for (const cluster of objects.filter((o) => o.kind === 'Cluster') as CnpgCluster[]) {
          const labels = cnpgInstanceLabels(cluster);
          const policies = policiesOn(objects, labels, 'Ingress');
          expect(policies.length, `an ingress policy on ${cluster.metadata.name}'s instances`).to.be.greaterThan(0);
          const rules = policies.flatMap((p) => p.spec?.ingress ?? []).filter((r) => {
            const ports = rulePorts(r.ports as never);
            return ports.length === 0 || ports.some((p) => p.port === 5432 && p.protocol === 'TCP');
          });
          const admits = (podLabels: Record<string, string> | undefined) => rules.some((r) => (r.from ?? []).some((peer) => peerSelectsLocalPods(peer, podLabels)));
          expect(admits(gatewayLabels), `${cluster.metadata.name}: 5432 from the gateway pods`).to.equal(true);
          for (const l of jobLabels) expect(admits(l), `${cluster.metadata.name}: 5432 from the migration Job pods`).to.equal(true);
          expect(admits({ 'cnpg.io/cluster': 'another', 'cnpg.io/podRole': 'instance' }), `${cluster.metadata.name}: 5432 from other instances (replication, moves)`).to.equal(true);
          for (const r of rules) {
            expect(r.from ?? [], 'a rule admitting 5432 names its sources').to.have.length.greaterThan(0);
            for (const peer of r.from!) {
              const open = peer.ipBlock !== undefined || (peer.namespaceSelector !== undefined && Object.keys(peer.namespaceSelector).length === 0) || (peer.podSelector !== undefined && Object.keys(peer.podSelector).length === 0);
              expect(open, `${cluster.metadata.name}: no peer that means "everyone" on 5432`).to.equal(false);
            }
          }
          const anyPod = { 'app.kubernetes.io/name': 'something-else' };
          expect(admits(anyPod), `${cluster.metadata.name}: not from any pod`).to.equal(false);
          // the primary's liveness isolation check asks the other instances' instance managers
          const statusFromInstances = policies
            .flatMap((p) => p.spec?.ingress ?? [])
            .some((r) => rulePorts(r.ports as never).some((p) => p.port === 8000) && (r.from ?? []).some((peer) => peerSelectsLocalPods(peer, cnpgInstanceLabels({ metadata: { name: 'another' } } as CnpgCluster))));
          expect(statusFromInstances, `${cluster.metadata.name}: 8000 from the other instances`).to.equal(true);
        }
      });

      it('the CloudNativePG pods have an egress policy: DNS, PostgreSQL and instance managers here, HTTPS out for the object store, nothing else', () => {
        const clusters = objects.filter((o) => o.kind === 'Cluster') as CnpgCluster[];
        const dns = { 'kubernetes.io/metadata.name': 'kube-system' };
        for (const cluster of clusters) {
          const name = cluster.metadata.name;
          // the instances, and the Job that restores a cluster (its sidecar reads the object store)
          const recoveryJob = { 'cnpg.io/cluster': name, 'cnpg.io/jobRole': 'full-recovery' };
          for (const [what, labels] of [['instances', cnpgInstanceLabels(cluster)], ['recovery Job', recoveryJob]] as const) {
            const policies = policiesOn(objects, labels, 'Egress');
            expect(policies.length, `${name} ${what}: an egress policy`).to.be.greaterThan(0);
            const rules = policies.flatMap((p) => p.spec?.egress ?? []);
            const reaches = (peerOk: (peer: NonNullable<(typeof rules)[number]['to']>[number]) => boolean, port: number, protocol = 'TCP') =>
              rules.some((r) => (r.to ?? []).some(peerOk) && rulePorts(r.ports as never).some((p) => p.port === port && p.protocol === protocol));
            const isDns = (peer: { namespaceSelector?: unknown; podSelector?: unknown }) =>
              selectorMatches(peer.namespaceSelector as Selector, dns) && selectorMatches((peer.podSelector ?? {}) as Selector, { 'k8s-app': 'kube-dns' });
            for (const protocol of ['UDP', 'TCP']) expect(reaches(isDns, 53, protocol), `${name} ${what}: DNS over ${protocol}`).to.equal(true);
            const other = cnpgInstanceLabels({ metadata: { name: 'another' } } as CnpgCluster);
            expect(reaches((peer) => peerSelectsLocalPods(peer, other), 5432), `${name} ${what}: 5432 to the other instances (replication, moves)`).to.equal(true);
            const outside = (peer: { ipBlock?: { cidr?: string } }) => peer.ipBlock?.cidr === '0.0.0.0/0';
            expect(reaches(outside, 443), `${name} ${what}: HTTPS to the object store`).to.equal(true);
            if (what === 'instances') expect(reaches((peer) => peerSelectsLocalPods(peer, other), 8000), `${name}: 8000 to the other instances (isolation check)`).to.equal(true);
            for (const r of rules) {
              expect(r.to ?? [], `${name} ${what}: every egress rule names its destinations`).to.have.length.greaterThan(0);
              expect(r.ports ?? [], `${name} ${what}: every egress rule names its ports`).to.have.length.greaterThan(0);
              for (const peer of r.to!) {
                if (peer.ipBlock !== undefined) {
                  // out of the cluster network: HTTPS (object store, API server) and the API server's 6443 only
                  for (const p of rulePorts(r.ports as never)) expect(`${p.port}/${p.protocol}`, `${name} ${what}: through an ipBlock`).to.be.oneOf(['443/TCP', '6443/TCP']);
                } else if (peer.namespaceSelector !== undefined) {
                  expect(isDns(peer), `${name} ${what}: only kube-dns outside the namespace`).to.equal(true);
                } else {
                  expect(selectorMatches(peer.podSelector as Selector, { 'app.kubernetes.io/name': 'something-else' }), `${name} ${what}: in the namespace, CloudNativePG pods only`).to.equal(false);
                }
              }
            }
          }
        }
      });

      it('the gateway and the migration Job have egress policies: DNS, PostgreSQL (and Redis, the collector for the gateway), nothing else', () => {
        const workloads = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job') as unknown as IDeployment[];
        const templateOf = (match: (l: Record<string, string> | undefined) => boolean) => workloads.map((w) => w.spec!.template).find((t) => match(t.metadata?.labels));
        const redis = templateOf((l) => l?.['app.kubernetes.io/component'] === 'redis')!;
        const limitsRedis = templateOf((l) => l?.['app.kubernetes.io/component'] === 'redis-limits')!;
        const collector = templateOf((l) => l?.['app.kubernetes.io/component'] === 'otel-collector')!;
        const instance = cnpgInstanceLabels(objects.find((o) => o.kind === 'Cluster') as CnpgCluster);
        const dns = { labels: { 'k8s-app': 'kube-dns' }, namespace: 'kube-system' };
        const check = (labels: Record<string, string> | undefined, what: string, expected: { labels: Record<string, string>; port: number; container?: IContainer }[]) => {
          const policies = policiesOn(objects, labels, 'Egress');
          expect(policies.length, `an egress policy on the ${what} pods`).to.be.greaterThan(0);
          const rules = policies.flatMap((p) => p.spec?.egress ?? []);
          for (const r of rules) {
            expect(r.to ?? [], `${what}: every egress rule names its destinations`).to.have.length.greaterThan(0);
            expect(r.ports ?? [], `${what}: every egress rule names its ports`).to.have.length.greaterThan(0);
            for (const peer of r.to!) expect(peer.ipBlock, `${what}: no ipBlock destination`).to.equal(undefined);
          }
          // DNS: kube-dns in kube-system, UDP and TCP 53
          const dnsRules = rules.filter((r) =>
            (r.to ?? []).some(
              (peer) =>
                selectorMatches(peer.namespaceSelector as Selector, { 'kubernetes.io/metadata.name': dns.namespace }) &&
                selectorMatches((peer.podSelector ?? {}) as Selector, dns.labels),
            ),
          );
          for (const protocol of ['UDP', 'TCP']) {
            expect(dnsRules.some((r) => rulePorts(r.ports as never).some((p) => p.port === 53 && p.protocol === protocol)), `${what}: DNS over ${protocol}`).to.equal(true);
          }
          for (const e of expected) {
            const ok = rules.some(
              (r) => (r.to ?? []).some((peer) => peerSelectsLocalPods(peer, e.labels)) && rulePorts(r.ports as never, e.container).some((p) => p.port === e.port && p.protocol === 'TCP'),
            );
            expect(ok, `${what}: egress to ${JSON.stringify(e.labels)} on ${e.port}`).to.equal(true);
          }
          // nothing else: every in-namespace destination is one of the expected ones
          for (const r of rules) {
            for (const peer of r.to ?? []) {
              if (peer.namespaceSelector !== undefined) {
                expect(selectorMatches(peer.namespaceSelector as Selector, { 'kubernetes.io/metadata.name': dns.namespace }), `${what}: only kube-system (DNS) outside the namespace`).to.equal(true);
                continue;
              }
              const known = expected.some((e) => selectorMatches(peer.podSelector as Selector, e.labels)) && Object.keys(peer.podSelector ?? {}).length > 0;
              expect(known, `${what}: unexpected egress destination ${JSON.stringify(peer)}`).to.equal(true);
            }
          }
        };
        const otlp = Number(new URL(gateway.env!.find((e) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT')!.value!).port || 4318);
        check(deployment.spec?.template.metadata?.labels, 'gateway', [
          { labels: instance, port: 5432 },
          { labels: redis.metadata!.labels!, port: 6379, container: redis.spec!.containers[0] },
          { labels: limitsRedis.metadata!.labels!, port: 6379, container: limitsRedis.spec!.containers[0] },
          { labels: collector.metadata!.labels!, port: resolveTargetPort(find<IService>(objects, 'Service', 'shardgate-otel-collector'), otlp, collector.spec!)!, container: collector.spec!.containers[0] },
        ]);
        for (const j of objects.filter((o) => o.kind === 'Job') as unknown as IJob[]) {
          check(j.spec?.template.metadata?.labels, `Job ${j.metadata?.name}`, [{ labels: instance, port: 5432 }]);
        }
      });

      it('Redis and the OpenTelemetry Collector the gateway points at exist, with a traces pipeline', () => {
        const { config } = gatewayConfig(objects, spec, gateway);
        const services = objects.filter((o) => o.kind === 'Service') as unknown as IService[];
        const serviceAt = (url: string, defaultPort: number) => {
          const u = new URL(url);
          const s = services.find((x) => x.metadata?.name === u.hostname);
          expect(s, `a Service ${u.hostname}`).to.not.equal(undefined);
          const port = Number(u.port || defaultPort);
          expect(s!.spec?.ports?.map((p) => p.port), `${u.hostname} serves ${port}`).to.include(port);
          return { service: s!, port };
        };
        serviceAt(config.redis!, 6379);
        const endpoint = gateway.env?.find((e) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value;
        expect(endpoint, 'OTEL_EXPORTER_OTLP_ENDPOINT').to.be.a('string');
        const { service, port } = serviceAt(endpoint!, 4318);
        const collectorDeployment = (objects.filter((o) => o.kind === 'Deployment') as unknown as IDeployment[]).find((d) =>
          labelsMatch(service.spec?.selector, d.spec?.template.metadata?.labels),
        )!;
        const collectorSpec = podSpec(collectorDeployment.spec?.template);
        const volume = collectorSpec.volumes?.find((v) => v.configMap)?.configMap?.name;
        const cm = find<IConfigMap>(objects, 'ConfigMap', volume!);
        const file = Object.keys(cm.data ?? {}).find((k) => /\.ya?ml$/.test(k))!;
        expect(collectorSpec.containers[0]!.args?.join(' '), 'the collector loads the mounted file').to.include(file);
        const otel = parseYaml(cm.data![file]!) as Record<string, Record<string, unknown>> & {
          service: { extensions?: string[]; pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }> };
        };
        expect(otel.service?.pipelines?.traces, 'a traces pipeline').to.be.an('object');
        const traces = otel.service.pipelines.traces!;
        for (const [section, ids] of [['receivers', traces.receivers], ['processors', traces.processors ?? []], ['exporters', traces.exporters], ['extensions', otel.service.extensions ?? []]] as const) {
          for (const id of ids) expect(otel[section] ?? {}, `${section}.${id} is defined`).to.have.property(id);
        }
        expect(traces.exporters.length).to.be.greaterThan(0);
        const otlp = otel.receivers?.otlp as { protocols?: { http?: { endpoint?: string } } } | undefined;
        expect(traces.receivers).to.include('otlp');
        expect(otlp?.protocols?.http?.endpoint, 'OTLP/HTTP receiver').to.match(new RegExp(`:${String(resolveTargetPort(service, port, collectorSpec))}$`));
        if (traces.processors?.includes('memory_limiter')) expect(traces.processors[0]).to.equal('memory_limiter');
      });

      it('every Secret the pods read is described by a template under k8s/secrets', () => {
        const refs = new Set<string>();
        for (const o of objects) {
          const template = (o as unknown as IDeployment).spec?.template;
          if ((o.kind !== 'Deployment' && o.kind !== 'Job') || !template) continue;
          for (const c of podSpec(template).containers) {
            for (const e of c.env ?? []) {
              const ref = e.valueFrom?.secretKeyRef;
              if (ref && !ref.optional) refs.add(`${ref.name}/${ref.key}`);
            }
          }
        }
        // the owners' bootstrap secrets and the managed roles' passwordSecrets
        for (const c of objects.filter((o) => o.kind === 'Cluster') as CnpgCluster[]) {
          for (const { name } of clusterSecrets(c)) refs.add(`${name}/username`).add(`${name}/password`);
        }
        // the object store credentials of the backups (read by the Barman Cloud plugin's sidecars)
        for (const s of objects.filter((o) => o.kind === 'ObjectStore') as ObjectStore[]) {
          for (const ref of objectStoreSecretRefs(s)) refs.add(`${ref.name}/${ref.key}`);
        }
        const provided = new Set(templates.flatMap((s) => Object.keys(s.stringData ?? {}).map((k) => `${s.metadata?.name}/${k}`)));
        expect([...refs].filter((r) => !provided.has(r)), 'secret keys without a template').to.deep.equal([]);
        for (const c of objects.filter((o) => o.kind === 'Cluster') as CnpgCluster[]) {
          expect(c.spec.bootstrap?.initdb?.secret?.name, `${c.metadata.name}: the owner's bootstrap secret`).to.be.a('string');
          // CloudNativePG wants basic-auth Secrets whose username is the role they set the password of
          for (const { name, role } of clusterSecrets(c)) {
            const t = templates.find((s) => s.metadata?.name === name)!;
            expect(t.type, `${name}: CloudNativePG wants a basic-auth Secret`).to.equal('kubernetes.io/basic-auth');
            expect(t.stringData?.username, `${name}: the username is the role ${role}`).to.equal(role);
            expect(t.metadata?.labels?.['cnpg.io/reload'], `${name}: labelled so the operator applies a new password`).to.equal('true');
          }
        }
      });

      it('every CloudNativePG cluster archives its WAL through the Barman Cloud plugin, to an ObjectStore of its own', () => {
        const clusters = objects.filter((o) => o.kind === 'Cluster') as CnpgCluster[];
        const stores = new Map((objects.filter((o) => o.kind === 'ObjectStore') as ObjectStore[]).map((s) => [s.metadata.name, s]));
        expect(clusters.length).to.be.at.least(4);
        const used = new Map<string, string>();
        const folders = new Map<string, string>();
        for (const c of clusters) {
          const name = c.metadata.name;
          // the in-tree barmanObjectStore is deprecated since CloudNativePG 1.26 (and excludes a plugin archiver)
          expect(c.spec.backup?.barmanObjectStore, `${name}: no in-tree spec.backup.barmanObjectStore`).to.equal(undefined);
          const archiver = walArchiver(c);
          expect(archiver?.name, `${name}: the Barman Cloud plugin archives its WAL (spec.plugins, isWALArchiver)`).to.equal(BARMAN_PLUGIN);
          const storeName = archiver!.parameters?.barmanObjectName;
          expect(storeName, `${name}: barmanObjectName`).to.be.a('string');
          const store = stores.get(storeName!);
          expect(store, `${name}: ObjectStore ${storeName} is in the build`).to.not.equal(undefined);
          expect(used.get(storeName!), `ObjectStore ${storeName} serves ${used.get(storeName!)} and ${name}`).to.equal(undefined);
          used.set(storeName!, name);
          // the archive's folder: <destinationPath>/<serverName>; two clusters in one folder would overwrite each other's WAL
          const folder = `${store!.spec.configuration.destinationPath.replace(/\/+$/, '')}/${archiver!.parameters?.serverName ?? name}`;
          expect(folders.get(folder), `${name} and ${folders.get(folder)} archive into ${folder}`).to.equal(undefined);
          folders.set(folder, name);
        }
        expect([...stores.keys()].filter((s) => !used.has(s)), 'ObjectStores no cluster archives to').to.deep.equal([]);
        for (const s of stores.values()) {
          const conf = s.spec.configuration;
          expect(conf.destinationPath, `${s.metadata.name}: the overlay sets the bucket`).to.not.include('SET_BY_OVERLAY');
          // the instances' egress admits HTTPS only (shardgate-postgres-egress)
          if (conf.endpointURL !== undefined) expect(new URL(conf.endpointURL).protocol, `${s.metadata.name}: endpointURL over HTTPS`).to.equal('https:');
          if (/^https:/.test(conf.destinationPath)) expect(new URL(conf.destinationPath).protocol).to.equal('https:');
          expect(conf.wal?.compression, `${s.metadata.name}: WAL compressed`).to.be.a('string');
          expect(conf.data?.compression, `${s.metadata.name}: base backups compressed`).to.be.a('string');
        }
      });

      it('every CloudNativePG cluster has a daily ScheduledBackup through the plugin, the first one at creation', () => {
        const clusters = (objects.filter((o) => o.kind === 'Cluster') as CnpgCluster[]).map((c) => c.metadata.name);
        const schedules = objects.filter((o) => o.kind === 'ScheduledBackup') as ScheduledBackup[];
        for (const s of schedules) expect(clusters, `ScheduledBackup ${s.metadata.name} backs up a Cluster of the build`).to.include(s.spec.cluster.name);
        for (const name of clusters) {
          const mine = schedules.filter((s) => s.spec.cluster.name === name && s.spec.suspend !== true);
          expect(mine.length, `${name}: a ScheduledBackup`).to.be.greaterThan(0);
          const daily = mine.filter((s) => {
            const [, , , dom, month, dow] = s.spec.schedule.trim().split(/\s+/);
            return [dom, month, dow].every((f) => f === '*' || f === '?');
          });
          expect(daily.length, `${name}: a base backup every day (day of month, month and day of week all *)`).to.be.greaterThan(0);
          for (const s of mine) {
            // the default method is the deprecated in-tree barmanObjectStore
            expect(s.spec.method, `${s.metadata.name}: method`).to.equal('plugin');
            expect(s.spec.pluginConfiguration?.name, `${s.metadata.name}: the Barman Cloud plugin`).to.equal(BARMAN_PLUGIN);
          }
          // WAL alone restores nothing: the first base backup must not wait for the first night
          expect(mine.some((s) => s.spec.immediate === true), `${name}: a first backup at creation (immediate)`).to.equal(true);
        }
      });

      it('every ObjectStore keeps a recovery window: production at least 30 days, dev less', () => {
        const stores = objects.filter((o) => o.kind === 'ObjectStore') as ObjectStore[];
        expect(stores.length).to.be.greaterThan(0);
        for (const s of stores) {
          expect(s.spec.retentionPolicy, `${s.metadata.name}: retentionPolicy`).to.be.a('string');
          const days = retentionDays(s.spec.retentionPolicy!);
          if (overlay === 'production') expect(days, `${s.metadata.name}: days restorable`).to.be.at.least(30);
          else expect(days, `${s.metadata.name}: a smaller window outside production`).to.be.within(1, 29);
        }
      });

      it('the object store credentials come from a templated Secret (placeholders only), never inline', () => {
        for (const s of objects.filter((o) => o.kind === 'ObjectStore') as ObjectStore[]) {
          const refs = objectStoreSecretRefs(s);
          expect(refs.length, `${s.metadata.name}: credentials from a Secret`).to.be.greaterThan(0);
          for (const ref of refs) {
            const t = templates.find((x) => x.metadata?.name === ref.name);
            expect(t, `${s.metadata.name}: Secret ${ref.name} has a template under k8s/secrets`).to.not.equal(undefined);
            expect(t!.stringData?.[ref.key], `${ref.name}.${ref.key} is a placeholder`).to.include('REPLACE_ME');
          }
        }
      });

      it('the migration Job runs dist/src/migrate.js with the gateway image and configuration', () => {
        const jobs = objects.filter((o) => o.kind === 'Job') as unknown as IJob[];
        const job = jobs.find((j) => podSpec(j.spec?.template).containers.some((c) => [...(c.command ?? []), ...(c.args ?? [])].some((a) => /dist\/src\/migrate\.js$/.test(a))));
        expect(job, 'a Job running dist/src/migrate.js').to.not.equal(undefined);
        const jobSpec = podSpec(job!.spec?.template);
        const migrate = jobSpec.containers[0]!;
        expect(existsSync(path.join(ROOT, 'src', 'migrate.ts'))).to.equal(true);
        expect(migrate.image).to.equal(gateway.image);
        expect(migrate.command, 'keep the image entrypoint (tini)').to.equal(undefined);
        const { script } = nodeInvocation(migrate.args ?? []);
        expect(script && path.posix.resolve('/app', script)).to.equal('/app/dist/src/migrate.js');
        expect(jobSpec.restartPolicy).to.be.oneOf(['Never', 'OnFailure']);
        // the same config and credentials, so it migrates exactly what the gateways will use
        const names = (c: IContainer) => (c.env ?? []).filter((e) => e.valueFrom?.secretKeyRef || e.name === 'GATEWAY_CONFIG' || e.name === 'NODE_ENV');
        // migrations reach PostgreSQL only: no Redis password
        for (const e of names(gateway).filter((x) => !/REDIS_PASSWORD$/.test(x.name))) {
          expect(migrate.env?.find((x) => x.name === e.name), `Job env ${e.name}`).to.deep.equal(e);
        }
        const mount = (c: IContainer, s: IPodSpec) => s.volumes?.find((v) => v.name === c.volumeMounts?.find((m) => m.mountPath === '/etc/shardgate')?.name)?.configMap?.name;
        expect(mount(migrate, jobSpec)).to.equal(mount(gateway, spec));
        expect(migrate.securityContext?.readOnlyRootFilesystem).to.equal(true);
      });

      it('images are set by the overlay, with an explicit tag; production pins every image by digest', () => {
        // production: @sha256:<digest>, the release pipeline's SET_BY_RELEASE until it sets it
        const digest = /@sha256:([0-9a-f]{64}|SET_BY_RELEASE)$/;
        for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'Job')) {
          for (const c of podSpec((o as unknown as IDeployment).spec?.template).containers) {
            if (overlay === 'production') expect(c.image, `${o.metadata.name}/${c.name} by digest`).to.match(new RegExp(`^[^:@]+(:[\\w.-]+)?${digest.source}`));
            else expect(c.image, `${o.metadata.name}/${c.name}`).to.match(/^[^:@]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/);
            expect(c.image).to.not.match(/:latest$/);
          }
        }
        if (overlay === 'production') expect(gateway.image).to.not.match(/^shardgate[:@]/);
        for (const c of objects.filter((o) => o.kind === 'Cluster') as CnpgCluster[]) {
          const image = (c.spec as { imageName?: string }).imageName;
          expect(image, `${c.metadata.name} pins its PostgreSQL image`).to.match(/:\d+\.\d+/);
          if (overlay === 'production') expect(image, `${c.metadata.name} by digest`).to.match(digest);
        }
      });

      it('PostgreSQL over verify-full TLS with every CloudNativePG cluster\'s CA mounted (the certificate only), in the gateway and the migration Job', () => {
        const { config } = gatewayConfig(objects, spec, gateway);
        expect(config.db.tls.mode).to.equal('verify-full');
        const raw = JSON.stringify(rawGatewayConfig(objects, spec, gateway));
        expect(raw, 'no TLS parameter in a URL (db.tls alone decides)').to.not.match(/[?&](ssl\w*|requiressl)=/);
        const clusters = (objects.filter((o) => o.kind === 'Cluster') as CnpgCluster[]).map((c) => c.metadata.name);
        const jobs = (objects.filter((o) => o.kind === 'Job') as unknown as IJob[]).map((j) => podSpec(j.spec?.template));
        for (const [what, podSpecOf, container] of [['gateway', spec, gateway], ...jobs.map((j) => ['migration Job', j, j.containers[0]!] as const)] as const) {
          const mount = container.volumeMounts?.find((m) => config.db.tls.ca === m.mountPath || config.db.tls.ca!.startsWith(`${m.mountPath}/`));
          expect(mount, `${what}: a volume at db.tls.ca (${config.db.tls.ca})`).to.not.equal(undefined);
          const volume = podSpecOf.volumes?.find((v) => v.name === mount!.name);
          const sources = volume?.projected?.sources?.map((x) => x.secret) ?? (volume?.secret ? [{ name: volume.secret.secretName, items: volume.secret.items }] : []);
          expect(sources.map((x) => x?.name).sort(), `${what}: the CA Secret CloudNativePG makes for each cluster`).to.deep.equal(clusters.map((c) => `${c}-ca`).sort());
          for (const src of sources) expect(src?.items?.map((i) => i.key), `${what}: ${src?.name}: the certificate only, never ca.key`).to.deep.equal(['ca.crt']);
        }
      });

      it('Redis over TLS (rediss:// with the CA mounted) and rate limits in a second Redis that never evicts', () => {
        const env = podEnv(gateway.env);
        for (const name of ['REDIS_URL', 'LIMITS_REDIS_URL']) expect(env[name], name).to.match(/^rediss:\/\//);
        const { config } = gatewayConfig(objects, spec, gateway);
        expect(config.redis).to.match(/^rediss:\/\//);
        expect(config.limits.redis).to.match(/^rediss:\/\/[^/]*shardgate-redis-limits:6379/);
        const caMount = gateway.volumeMounts?.find((m) => config.redisTls?.ca?.startsWith(`${m.mountPath}/`));
        expect(caMount, 'a volume at redisTls.ca').to.not.equal(undefined);
        const deployments = objects.filter((o) => o.kind === 'Deployment') as unknown as IDeployment[];
        const redisArgs = (component: string) => {
          const d = deployments.find((x) => x.spec?.template.metadata?.labels?.['app.kubernetes.io/component'] === component);
          expect(d, `a ${component} Deployment`).to.not.equal(undefined);
          const args = podSpec(d!.spec?.template).containers[0]!.args ?? [];
          const value = (flag: string) => args[args.indexOf(flag) + 1];
          expect(value('--port'), `${component}: no plain-text port`).to.equal('0');
          expect(value('--tls-port'), `${component}: TLS on 6379`).to.equal('6379');
          for (const f of ['--tls-cert-file', '--tls-key-file']) expect(args, `${component} ${f}`).to.include(f);
          return value;
        };
        redisArgs('redis');
        expect(redisArgs('redis-limits')('--maxmemory-policy'), 'rate-limit buckets never evicted').to.equal('noeviction');
        const services = objects.filter((o) => o.kind === 'Service').map((o) => o.metadata.name);
        expect(services).to.include('shardgate-redis-limits');
      });
    });
  }
});

describe('deploy: backups across environments', function () {
  this.timeout(120_000);

  it('no two environments archive into the same place: each overlay has its own bucket', function () {
    if (!kubectlAvailable()) skipUnlessCi(this, 'kubectl');
    const owner = new Map<string, string>();
    for (const overlay of OVERLAYS) {
      const paths = new Set((kustomize(path.join(K8S, 'overlays', overlay)).filter((o) => o.kind === 'ObjectStore') as ObjectStore[]).map((s) => s.spec.configuration.destinationPath));
      expect(paths.size, `${overlay}: object stores`).to.be.greaterThan(0);
      // the clusters have the same names in every environment: one shared path would mix their archives
      for (const bucket of new Set([...paths].map((p) => p.replace(/^(\w+:\/\/[^/]+).*$/, '$1')))) {
        expect(owner.get(bucket), `${overlay} and ${owner.get(bucket)} both write to ${bucket}`).to.equal(undefined);
        owner.set(bucket, overlay);
      }
    }
  });
});

/** The Service port's target, as the container port number it lands on. */
function resolveTargetPort(service: IService, port: number, spec: IPodSpec): number | undefined {
  const p = service.spec?.ports?.find((x) => x.port === port);
  return spec.containers.map((c) => resolvePort(c, p?.targetPort ?? p?.port)).find((x) => x !== undefined);
}

/** The gateway's config file as the pod sees it (GATEWAY_CONFIG in the mounted ConfigMap). */
function gatewayConfigFile(objects: K8sObject[], spec: IPodSpec, gateway: IContainer): string {
  const file = podEnv(gateway.env).GATEWAY_CONFIG;
  expect(file, 'GATEWAY_CONFIG').to.be.a('string');
  const mount = gateway.volumeMounts?.find((m) => file!.startsWith(m.mountPath.replace(/\/?$/, '/')));
  expect(mount, `a volume mounted over ${file}`).to.not.equal(undefined);
  const cmName = spec.volumes?.find((v) => v.name === mount!.name)?.configMap?.name;
  const cm = find<IConfigMap>(objects, 'ConfigMap', cmName!);
  const key = path.posix.relative(mount!.mountPath, file!);
  const json = cm.data?.[key];
  expect(json, `ConfigMap ${cmName} has ${key}`).to.be.a('string');
  return json!;
}

interface RawShard {
  id: string;
  primary: string;
  replicas?: (string | { name: string; url: string })[];
  admin?: { primary: string; replicas?: (string | { name: string; url: string })[] };
}

/** The ConfigMap's gateway.json as written: URLs still carry their `${env:NAME}` references. */
function rawGatewayConfig(objects: K8sObject[], spec: IPodSpec, gateway: IContainer): { catalog?: string; shards?: RawShard[]; [key: string]: unknown } {
  return JSON.parse(gatewayConfigFile(objects, spec, gateway)) as { catalog?: string; shards?: RawShard[] };
}

/**
 * The gateway's configuration as the pod would load it: the ConfigMap file plus the pod
 * env, where each secretKeyRef (so each `${env:NAME}` the file's URLs reference) holds a
 * placeholder value. A reference to a variable the container does not set fails here, as
 * it would fail the pod.
 */
function gatewayConfig(objects: K8sObject[], spec: IPodSpec, gateway: IContainer) {
  const env = podEnv(gateway.env);
  const json = gatewayConfigFile(objects, spec, gateway);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-deploy-'));
  try {
    const local = path.join(dir, 'gateway.json');
    writeFileSync(local, json!);
    return { config: loadConfig({ ...env, GATEWAY_CONFIG: local }), env };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
