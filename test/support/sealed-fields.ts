import { createCipheriv, randomBytes } from 'node:crypto';
import type { TestGateway } from './test-cluster.js';

/**
 * An `enc1` value as the gateway wrote them before enc2 (AES-256-GCM under the gateway's
 * current key, no associated data): what a row written by an older gateway holds.
 */
export function legacySealed(gw: TestGateway, plaintext: string): string {
  const { keys, currentKeyId } = gw.gateway.config.encryption;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(keys[currentKeyId]!, 'base64'), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['enc1', currentKeyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join(':');
}
