import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'sg_';

/**
 * Tenant API keys are 256-bit random tokens. They are stored as SHA-256: a fast hash is
 * right for high-entropy keys (no dictionary to attack), where a slow KDF on every request
 * would cap the gateway at a few hundred requests a second.
 */
export function generateApiKey(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

/** A key's public id (listed, revoked by): random, never derived from the key. */
export function generateKeyId(): string {
  return `key_${randomBytes(12).toString('base64url')}`;
}

export const KEY_ID_PATTERN = /^key_[A-Za-z0-9_-]{1,64}$/;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Shape check before any lookup, so garbage never reaches the catalog. */
export function looksLikeApiKey(key: string): boolean {
  return key.startsWith(PREFIX) && key.length === PREFIX.length + 43 && /^[A-Za-z0-9_-]+$/.test(key.slice(PREFIX.length));
}

/** Constant-time comparison for bearer secrets of any length (the admin token). */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
