import { RedisScript } from './redis-script.js';
import type { SlotsInUse, SlotVerdict } from './slot-math.js';

/**
 * Concurrency slots leased in Redis, one script for every step so each is atomic and runs
 * on Redis's clock (`TIME`): pods whose clocks disagree still agree on which leases have
 * expired. A lease is a member of two sorted sets scored by its expiry in ms: the shard's
 * (`KEYS[1]`) and its tenant's on that shard (`KEYS[2..]`); both keys carry the shard's
 * hash tag, so on a Redis Cluster they live in one slot and one script may touch both.
 * Expired leases are dropped before counting: a pod killed mid-request holds its slots
 * only until their expiry. A key expires with its last lease.
 *
 * ARGV[1] op, ARGV[2] lease TTL in ms, then:
 * - `acquire` lease id, tenant cap, shard cap (KEYS: shard, tenant) → {verdict: 1 granted,
 *   0 the tenant's cap is reached, -1 the shard's; tenant slots in use, shard slots in use}
 *   (counts include the new lease when granted); the decision of `slot-math.ts`'s `decide`.
 * - `renew` lease ids, the i-th in KEYS[i + 1] (KEYS: shard, one tenant key per lease) →
 *   leases renewed. A lease that expired meanwhile (Redis was unreachable) is added back:
 *   its request is still running, and counting it keeps the sets truthful, even above a cap.
 * - `release` lease id (KEYS: shard, tenant) → 1.
 */
export const slotLeaseScript = new RedisScript(`
if redis.replicate_commands then redis.replicate_commands() end
local op = ARGV[1]
local ttl = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expires = now + ttl
local function keep(key)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
if op == 'acquire' then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  local tenant = redis.call('ZCARD', KEYS[2])
  local shard = redis.call('ZCARD', KEYS[1])
  if tenant >= tonumber(ARGV[4]) then return { 0, tenant, shard } end
  if shard >= tonumber(ARGV[5]) then return { -1, tenant, shard } end
  redis.call('ZADD', KEYS[1], expires, ARGV[3])
  redis.call('ZADD', KEYS[2], expires, ARGV[3])
  keep(KEYS[1])
  keep(KEYS[2])
  return { 1, redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[1]) }
elseif op == 'renew' then
  for i = 3, #ARGV do
    redis.call('ZADD', KEYS[1], expires, ARGV[i])
    redis.call('ZADD', KEYS[i - 1], expires, ARGV[i])
    keep(KEYS[i - 1])
  end
  keep(KEYS[1])
  return #ARGV - 2
elseif op == 'release' then
  redis.call('ZREM', KEYS[1], ARGV[3])
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 1
end
return redis.error_reply('unknown slot op ' .. tostring(op))
`);

export interface AcquireReply {
  readonly verdict: SlotVerdict;
  readonly inUse: SlotsInUse;
}

const VERDICTS: Readonly<Record<number, SlotVerdict>> = { 1: 'granted', 0: 'tenant', [-1]: 'shard' };

/** The `acquire` reply, checked: anything else is a fault of Redis (and the caller falls back). */
export function parseAcquireReply(reply: unknown): AcquireReply {
  if (!Array.isArray(reply) || reply.length !== 3 || !reply.every((v) => Number.isInteger(v))) {
    throw new Error(`unexpected slot reply ${JSON.stringify(reply)}`);
  }
  const [code, tenant, shard] = reply as [number, number, number];
  const verdict = VERDICTS[code];
  if (verdict === undefined) throw new Error(`unexpected slot reply ${JSON.stringify(reply)}`);
  return { verdict, inUse: { tenant, shard } };
}
