import type { PGlite } from '@electric-sql/pglite';
import type { hstore } from '@electric-sql/pglite/contrib/hstore';
import type { btree_gin } from '@electric-sql/pglite/contrib/btree_gin';

/** The embedded default cannot run: PGlite, an optional dependency, is not installed. */
export class EmbeddedUnavailableError extends Error {
  readonly code = 'EMBEDDED_UNAVAILABLE';
  override readonly name = 'EmbeddedUnavailableError';
}

export interface PgliteModule {
  readonly PGlite: typeof PGlite;
  readonly hstore: typeof hstore;
  readonly btree_gin: typeof btree_gin;
}

/**
 * PGlite, loaded only when the embedded default starts. It is an optional dependency: the
 * production image installs without it (`npm ci --omit=optional`) and never runs embedded,
 * so a gateway with a catalog never loads its WebAssembly (nor needs it on disk).
 */
export async function loadPglite(): Promise<PgliteModule> {
  try {
    const [core, hstoreExt, btreeGinExt] = await Promise.all([
      import('@electric-sql/pglite'),
      import('@electric-sql/pglite/contrib/hstore'),
      import('@electric-sql/pglite/contrib/btree_gin'),
    ]);
    // import() resolves PGlite's ESM build, whose declarations TypeScript keeps apart from the
    // CommonJS ones the rest of embedded/ names: the same classes at run time
    return { PGlite: core.PGlite, hstore: hstoreExt.hstore, btree_gin: btreeGinExt.btree_gin } as unknown as PgliteModule;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new EmbeddedUnavailableError(
        'no catalog is configured, and the embedded default needs @electric-sql/pglite, an optional dependency that is not installed: ' +
          'run `npm install @electric-sql/pglite`, or configure a catalog (CATALOG_URL or GATEWAY_CONFIG)',
        { cause: err },
      );
    }
    throw err;
  }
}
