import type { IRouter, Router } from 'express';

/** One route an app answers: the HTTP method (`ALL` for `router.all`) and the full path with its parameters. */
export interface RouteEntry {
  readonly method: string;
  readonly path: string;
}

/** What a router keeps of what was registered on it (router 2.x, under Express 5). */
interface Layer {
  readonly rawPath?: unknown;
  readonly slash?: boolean;
  readonly route?: { readonly path: unknown; readonly methods: Readonly<Record<string, boolean>> };
  readonly handle?: { readonly stack?: readonly Layer[] };
}

function join(...parts: string[]): string {
  const path = parts.map((p) => p.replace(/\/+$/, '')).filter((p) => p !== '').join('');
  return path === '' ? '/' : path;
}

function literal(path: unknown, where: string): string {
  if (typeof path !== 'string') throw new Error(`RouteTable records string paths only (${where}: ${String(path)})`);
  return path;
}

/**
 * Every route an app answers, recorded where its routers are mounted: an app mounts
 * each router through `mount`, and the table lists the routes that router (and any router
 * inside it) holds, under the full path. Tests enumerate endpoints from here, so a route
 * cannot exist without being listed.
 */
export class RouteTable {
  readonly #mounts: Array<{ readonly base: string; readonly router: Router }> = [];

  /**
   * `parent.use(path, child)`, recording the child's routes under `base + path` (`base`:
   * where `parent` itself is reached, e.g. '/v1').
   */
  mount(parent: IRouter, path: string, child: Router, base = ''): void {
    parent.use(path, child);
    this.#mounts.push({ base: join(base, path), router: child });
  }

  /** Every route, in the order it was mounted and registered. */
  get entries(): readonly RouteEntry[] {
    const out: RouteEntry[] = [];
    for (const { base, router } of this.#mounts) this.#walk(base, router as unknown as { stack: readonly Layer[] }, out);
    return out;
  }

  has(method: string, path: string): boolean {
    return this.entries.some((e) => e.path === path && (e.method === method.toUpperCase() || e.method === 'ALL'));
  }

  #walk(base: string, router: { readonly stack: readonly Layer[] }, out: RouteEntry[]): void {
    for (const layer of router.stack) {
      if (layer.route) {
        const path = join(base, literal(layer.route.path, base));
        for (const [method, on] of Object.entries(layer.route.methods)) if (on) out.push({ method: method === '_all' ? 'ALL' : method.toUpperCase(), path });
      } else if (layer.handle?.stack) {
        // a router inside a mounted router: its routes live under the path it was used at
        this.#walk(layer.slash ? base : join(base, literal(layer.rawPath, base)), layer.handle as { stack: readonly Layer[] }, out);
      }
    }
  }
}
