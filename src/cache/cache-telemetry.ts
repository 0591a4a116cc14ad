/** Span and attribute names of the cache, named once. */
export const CacheSpan = {
  Get: 'cache.get',
  Invalidate: 'cache.invalidate',
} as const;

export const CacheAttr = {
  /** get: hit | miss | error; invalidate: ok | error */
  Result: 'cache.result',
  KeyCount: 'cache.key_count',
} as const;

export const TRACER_NAME = 'shardgate';
