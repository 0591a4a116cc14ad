import { hash } from 'node:crypto';
import HashRing from 'hashring';
import type { ShardRow, ShardState } from '../catalog/catalog-rows.js';

export interface RingMember {
  readonly shardId: string;
  /** relative capacity; 100 is one standard shard */
  readonly weight: number;
}

/** vnodes for weight 100: ketama's 40 vnodes × 4 replicas = 160 points per standard shard */
const BASE_VNODES = 40;

/**
 * The consistent-hash ring over logical shard ids (never connection strings). Each
 * member gets an explicit vnode count from its weight: hashring re-floors point counts
 * across all members when weights are used, which moves keys between existing shards
 * whenever one is added; explicit vnodes keep a member's points independent of the others.
 */
export class Ring {
  readonly #ring: HashRing | undefined;
  readonly members: readonly RingMember[];

  constructor(members: readonly RingMember[]) {
    this.members = Object.freeze([...members].sort((a, b) => a.shardId.localeCompare(b.shardId)));
    if (this.members.length === 0) {
      this.#ring = undefined;
      return;
    }
    const servers: Record<string, { vnodes: number }> = {};
    for (const m of this.members) servers[m.shardId] = { vnodes: Math.max(1, Math.round((BASE_VNODES * m.weight) / 100)) };
    // the same MD5 ketama points as hashring's default ('md5'), through the one-shot
    // crypto.hash (no Hash object per lookup); its LRU is off because a million distinct
    // tenants only churn it
    this.#ring = new HashRing(servers, (key: string) => hash('md5', key, 'buffer'), { 'vnode count': BASE_VNODES, replicas: 4, 'max cache size': 1 });
  }

  /** The shard a key hashes to, or undefined for an empty ring. */
  get(key: string): string | undefined {
    return this.#ring?.get(key);
  }
}

/** The ring of the shards in these states: `active` is the ring requests are placed by; a rebalance plans with `active` + `standby`. */
export function ringOf(shards: ReadonlyArray<Pick<ShardRow, 'id' | 'weight' | 'state'>>, states: readonly ShardState[]): Ring {
  return new Ring(shards.filter((s) => states.includes(s.state)).map((s) => ({ shardId: s.id, weight: s.weight })));
}

/** The ring requests are placed by (the active shards'), as the catalog records it for new tenants. */
export const placementRing = (shards: ReadonlyArray<Pick<ShardRow, 'id' | 'weight' | 'state'>>): Ring => ringOf(shards, ['active']);
