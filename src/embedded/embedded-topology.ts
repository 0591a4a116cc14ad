import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { EmbeddedPostgres } from './embedded-postgres.js';

export interface EmbeddedTopology {
  readonly catalog: string;
  readonly shards: Array<{ id: string; primary: string; replicas: string[] }>;
  close(): Promise<void>;
}

/**
 * The embedded default: a catalog and N shard databases, each a PGlite instance in this
 * process behind a loopback socket, persisted under `dataDir`. No replicas: reads go to
 * the primary (route reason `no_healthy_replica`).
 */
export async function startEmbeddedTopology(dataDir: string, shardCount: number): Promise<EmbeddedTopology> {
  mkdirSync(dataDir, { recursive: true });
  const started: EmbeddedPostgres[] = [];
  const names = ['catalog', ...Array.from({ length: shardCount }, (_, i) => `shard-${i + 1}`)];
  try {
    // started together: a first start spends most of its time in initdb, which overlaps
    // with the other instances' file I/O
    const results = await Promise.allSettled(names.map((name) => EmbeddedPostgres.start({ dataDir: path.join(dataDir, name), name })));
    for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const [catalog, ...shardDbs] = started as [EmbeddedPostgres, ...EmbeddedPostgres[]];
    const shards = shardDbs.map((db, i) => ({ id: `shard-${i + 1}`, primary: db.url, replicas: [] as string[] }));
    return {
      catalog: catalog.url,
      shards,
      close: async () => {
        await Promise.allSettled(started.map((db) => db.close()));
      },
    };
  } catch (err) {
    await Promise.allSettled(started.map((db) => db.close()));
    throw err;
  }
}

/** A small JSON file of local secrets (admin token, demo key) kept with the embedded data. */
export class LocalSecrets {
  readonly #file: string;

  constructor(dataDir: string) {
    this.#file = path.join(dataDir, 'local-secrets.json');
  }

  read(): Record<string, string> {
    if (!existsSync(this.#file)) return {};
    return JSON.parse(readFileSync(this.#file, 'utf8')) as Record<string, string>;
  }

  write(values: Record<string, string>): void {
    writeFileSync(this.#file, JSON.stringify(values, null, 2), { mode: 0o600 });
  }
}
