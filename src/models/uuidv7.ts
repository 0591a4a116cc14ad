import { randomFillSync } from 'node:crypto';

let lastMs = 0;
let sequence = 0;

// Entropy is drawn from the CSPRNG a block at a time (as Node's randomUUID does): one call
// per 256 ids instead of one or two per id, each of which cost a system call's worth of CPU.
const ENTROPY = Buffer.alloc(16 * 256);
let entropyAt = ENTROPY.length;

function random16(): Buffer {
  if (entropyAt + 16 > ENTROPY.length) {
    randomFillSync(ENTROPY);
    entropyAt = 0;
  }
  const bytes = Buffer.allocUnsafe(16);
  ENTROPY.copy(bytes, 0, entropyAt, entropyAt + 16);
  // used bytes are never handed out twice
  entropyAt += 16;
  return bytes;
}

/**
 * UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then random bits. Ids are made by
 * the app, never by a per-shard sequence, so a tenant's rows can move between shards
 * without collisions; time ordering keeps b-tree inserts local. A 12-bit counter in
 * rand_a keeps ids from one process monotonic within a millisecond.
 */
export function uuidv7(now: number = Date.now()): string {
  const bytes = random16();
  if (now <= lastMs) {
    sequence = (sequence + 1) & 0xfff;
    if (sequence === 0) lastMs += 1; // counter wrapped: borrow the next millisecond
    now = lastMs;
  } else {
    lastMs = now;
    // random start, headroom to count up; these two bytes are overwritten below, so no
    // random bit appears twice
    sequence = bytes.readUInt16BE(6) & 0x7ff;
  }
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
