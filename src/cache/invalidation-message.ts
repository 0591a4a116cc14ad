/** What one gateway tells the others after a commit. */
export type InvalidationMessage =
  /** these cache keys changed */
  | { readonly kind: 'keys'; readonly keys: readonly string[] }
  /** drop everything of a tenant (status change, move) */
  | { readonly kind: 'tenant'; readonly tenantId: string }
  /** a tenant's API key was revoked: drop its cached keys (its cached reads stay) */
  | { readonly kind: 'credentials'; readonly tenantId: string }
  /**
   * the placement catalog changed to this version; `placed`: tenants a move just placed
   * (tenant → shard), routed there at once, before the reload that confirms it
   */
  | { readonly kind: 'catalog'; readonly version: string; readonly placed?: Readonly<Record<string, string>> }
  /** an operator reads tenant usage: flush your counts to Redis now, then count yourself in under `nonce` */
  | { readonly kind: 'usage-flush'; readonly nonce: string };

/** A message on the wire: the message plus the id of the process that published it. */
export type InvalidationEnvelope = InvalidationMessage & { readonly origin: string };

export function encodeInvalidation(message: InvalidationMessage, origin: string): string {
  return JSON.stringify({ ...message, origin });
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/** Parses a message from the channel; anything malformed (another version, another app) is undefined. */
export function decodeInvalidation(raw: string): InvalidationEnvelope | undefined {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null) return undefined;
  const m = data as Record<string, unknown>;
  if (typeof m.origin !== 'string') return undefined;
  switch (m.kind) {
    case 'keys':
      return isStringArray(m.keys) ? { kind: 'keys', keys: m.keys, origin: m.origin } : undefined;
    case 'tenant':
    case 'credentials':
      return typeof m.tenantId === 'string' ? { kind: m.kind, tenantId: m.tenantId, origin: m.origin } : undefined;
    case 'catalog':
      if (typeof m.version !== 'string' || !/^\d{1,19}$/.test(m.version)) return undefined;
      if (m.placed === undefined) return { kind: 'catalog', version: m.version, origin: m.origin };
      return isStringRecord(m.placed) ? { kind: 'catalog', version: m.version, placed: m.placed, origin: m.origin } : undefined;
    case 'usage-flush':
      return typeof m.nonce === 'string' && /^[0-9a-f-]{1,64}$/.test(m.nonce) ? { kind: 'usage-flush', nonce: m.nonce, origin: m.origin } : undefined;
    default:
      return undefined;
  }
}
