/**
 * Every Redis name the cache uses is built here, so the key format is defined once.
 *
 * Format: `sg:v1:t:<tenant>:<kind>:<id>`. The version segment means a format change
 * (`v2`) never reads entries written in the old one. Tenant ids and record ids are
 * percent-encoded down to `[A-Za-z0-9._%-]`, so a tenant id containing `:` can never
 * produce another tenant's prefix, and no glob character (`* ? [ ] \`) reaches a
 * `SCAN MATCH` pattern. No `{hash tag}` on cache keys: on a Redis Cluster one hot tenant
 * should spread over slots, and no cache operation needs two keys in one slot. The
 * concurrency leases are the exception: one script updates a shard's set and a tenant's set
 * together, so both carry the shard's id as their hash tag.
 */
const VERSION = 'sg:v1:';

/** Percent-encodes everything outside `[A-Za-z0-9._-]` (UTF-8 bytes), `%` included: a bijection. */
export function encodeKeyPart(part: string): string {
  if (part.length === 0) throw new RangeError('cache key parts must not be empty');
  return encodeURIComponent(part).replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function decodeKeyPart(encoded: string): string {
  return decodeURIComponent(encoded);
}

function tenantPrefix(tenantId: string): string {
  return `${VERSION}t:${encodeKeyPart(tenantId)}:`;
}

export const cacheKeys = Object.freeze({
  /** every key and channel starts with this */
  version: VERSION,

  /** the prefix of every key of one tenant; ends with `:`, so tenant `a` never matches `ab` */
  tenantPrefix,

  /** one product of one tenant */
  product(tenantId: string, productId: string): string {
    return `${tenantPrefix(tenantId)}product:${encodeKeyPart(productId)}`;
  },

  /** a tenant's shared rate-limit bucket (`sg:v1:rl:`, outside every `t:` prefix: tenant invalidations never touch it) */
  rateLimit(tenantId: string): string {
    return `${VERSION}rl:${encodeKeyPart(tenantId)}`;
  },

  /**
   * the concurrency leases held on one shard by every pod (`sg:v1:cc:{<shard>}`); shard ids
   * are `[a-z0-9-]`, so the braces are the hash tag and nothing inside can close it early
   */
  shardSlots(shardId: string): string {
    return `${VERSION}cc:{${encodeKeyPart(shardId)}}`;
  },

  /** the leases one tenant holds on that shard: the shard's hash tag, then the tenant (outside every `t:` prefix) */
  tenantSlots(shardId: string, tenantId: string): string {
    return `${VERSION}cc:{${encodeKeyPart(shardId)}}:t:${encodeKeyPart(tenantId)}`;
  },

  /** the pub/sub channel invalidations are broadcast on */
  invalidationChannel(): string {
    return `${VERSION}invalidate`;
  },

  /** the tenant a key belongs to, or undefined for a key not built here */
  tenantOf(key: string): string | undefined {
    if (!key.startsWith(`${VERSION}t:`)) return undefined;
    const end = key.indexOf(':', VERSION.length + 2);
    if (end < 0) return undefined;
    return decodeKeyPart(key.slice(VERSION.length + 2, end));
  },
});
