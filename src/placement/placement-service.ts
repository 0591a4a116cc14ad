import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import type { ShardRow } from '../catalog/catalog-rows.js';
import { PlacementTable } from './placement-table.js';

export interface PlacementServiceOptions {
  /** how often the catalog version is polled (the fallback when no broadcast arrives) */
  readonly refreshIntervalMs: number;
}

type Listener = (shards: readonly ShardRow[]) => void;

/** A placement change a move committed: the catalog version it made and where it placed each tenant. */
export interface PlacementChange {
  readonly version: bigint;
  readonly placed: ReadonlyMap<string, string>;
}

/**
 * Keeps the current PlacementTable, rebuilt from the catalog whenever its version moves.
 * Keeps serving the last table when the catalog is down (tenants stay routable).
 */
export class PlacementService {
  #table: PlacementTable | undefined;
  #shards: readonly ShardRow[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #listeners: Listener[] = [];
  #reloaded: { promise: Promise<void>; resolve: () => void } | undefined;
  /** performance.now() when the last version read that succeeded was sent: the placement was current then */
  #confirmedAt = Number.NEGATIVE_INFINITY;
  /** placements announced at a catalog version the table has not loaded yet: tenant → shard and that version */
  readonly #announced = new Map<string, { shardId: string; version: bigint }>();

  constructor(
    private readonly catalog: Pick<Catalog, 'shards' | 'pins' | 'version'>,
    private readonly options: PlacementServiceOptions,
    private readonly logger: Logger,
  ) {}

  get table(): PlacementTable {
    if (!this.#table) throw new Error('placement not loaded');
    return this.#table;
  }

  get shards(): readonly ShardRow[] {
    return this.#shards;
  }

  /** Called with the shard list after every reload, so the registry can open new shards. */
  onReload(listener: Listener): void {
    this.#listeners.push(listener);
  }

  /** Settles at the next reload or announced placement (a broadcast, a poll, a move's flip): lets a fenced write retry at once. */
  nextReload(): Promise<void> {
    if (!this.#reloaded) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#reloaded = { promise, resolve };
    }
    return this.#reloaded.promise;
  }

  /** ms since the placement was last confirmed current by the catalog (Infinity before the first load) */
  staleForMs(now = performance.now()): number {
    return now - this.#confirmedAt;
  }

  /**
   * Routes tenants a move placed (here, or on another gateway by broadcast) at once, on top
   * of the table loaded: the change is committed at `version`, and the reload that follows
   * confirms it. A table already at that version or later knows better and wins; one loaded
   * from before it (a reload racing the flip) still gets the announced placements on top.
   * The write lease is untouched: only the catalog confirms a placement current.
   */
  placed(version: bigint, placed: ReadonlyMap<string, string>): void {
    for (const [tenantId, shardId] of placed) {
      if ((this.#announced.get(tenantId)?.version ?? -1n) < version) this.#announced.set(tenantId, { shardId, version });
    }
    if (this.#table) this.#table = this.#withAnnounced(this.#table);
    this.#wake();
  }

  async reload(): Promise<void> {
    const asked = performance.now();
    const version = await this.catalog.version();
    const [shards, pins] = await Promise.all([this.catalog.shards.list(), this.catalog.pins.list()]);
    this.#shards = shards;
    this.#table = this.#withAnnounced(PlacementTable.fromCatalog(shards, pins, version));
    this.#confirmedAt = Math.max(this.#confirmedAt, asked);
    for (const listener of this.#listeners) listener(shards);
    this.#wake();
  }

  /** The table with the announced placements it predates on top; those it has caught up with are forgotten. */
  #withAnnounced(table: PlacementTable): PlacementTable {
    for (const [tenantId, a] of this.#announced) if (a.version <= table.version) this.#announced.delete(tenantId);
    if (this.#announced.size === 0) return table;
    const pins = new Map(table.pins);
    for (const [tenantId, a] of this.#announced) pins.set(tenantId, a.shardId);
    return new PlacementTable(table.ring, pins, table.version);
  }

  #wake(): void {
    const waiting = this.#reloaded;
    this.#reloaded = undefined;
    waiting?.resolve();
  }

  /** Reloads only if the catalog version moved. */
  async refresh(): Promise<void> {
    const asked = performance.now();
    const version = await this.catalog.version();
    if (this.#table && version === this.#table.version) {
      this.#confirmedAt = Math.max(this.#confirmedAt, asked);
      return;
    }
    await this.reload();
  }

  start(): void {
    const tick = async () => {
      try {
        await this.refresh();
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'placement refresh failed; serving the cached placement');
      }
      if (this.#timer) this.#timer = setTimeout(tick, this.options.refreshIntervalMs);
    };
    this.#timer = setTimeout(tick, this.options.refreshIntervalMs);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
