import pg from 'pg';
import type { SeedTarget } from './seed.js';
import { request } from './http.js';
import type { Window } from './move-stats.js';

/** The parts of `GET /admin/jobs/:id` the scenario reads (docs/moves.md); anything else is ignored. */
interface JobView {
  readonly state: string;
  readonly moves?: readonly { readonly stage?: string; readonly rowsCopied?: number; readonly fenceMs?: number; readonly rowsPerSecond?: number; readonly error?: string }[];
  readonly error?: string;
}

export interface MoveRun {
  /** refused: the move was not accepted (not 202); timeout: not finished within the scenario's limit */
  readonly state: 'succeeded' | 'failed' | 'refused' | 'timeout';
  readonly jobId: string | undefined;
  /** from sending the POST to seeing the job finished (performance.now() ms) */
  readonly window: Window;
  /** ms after the POST at which the client first saw each stage: a client-side timeline of the move */
  readonly stagesSeen: Readonly<Record<string, number>>;
  readonly rowsCopied: number;
  readonly rowsPerSecond: number | undefined;
  readonly fenceMs: number | undefined;
  readonly error: string | undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polled this often: a few times per server poll (moves.pollMs, 100 ms), so stage changes are seen promptly. */
const POLL_MS = 50;

/** POST /admin/tenants/:id/move, then GET /admin/jobs/:id until it ends: the scenario drives moves only through the admin API. */
export async function runMove(target: SeedTarget, tenantId: string, to: string, timeoutMs: number): Promise<MoveRun> {
  const headers = { authorization: `Bearer ${target.adminToken}` };
  const from = performance.now();
  const stagesSeen: Record<string, number> = {};
  const res = await request('POST', `${target.adminUrl}/admin/tenants/${encodeURIComponent(tenantId)}/move`, headers, { to });
  const jobId = res.status === 202 ? (res.body as { jobId: string }).jobId : undefined;
  if (jobId === undefined) {
    return { state: 'refused', jobId, window: { from, to: performance.now() }, stagesSeen, rowsCopied: 0, rowsPerSecond: undefined, fenceMs: undefined, error: `${res.status} ${JSON.stringify(res.body).slice(0, 300)}` };
  }
  let view: JobView | undefined;
  for (;;) {
    const r = await request('GET', `${target.adminUrl}/admin/jobs/${jobId}`, headers);
    const now = performance.now();
    if (r.status === 200) {
      view = r.body as JobView;
      const stage = view.moves?.[0]?.stage;
      if (stage !== undefined && stagesSeen[stage] === undefined) stagesSeen[stage] = Math.round(now - from);
      if (view.state === 'succeeded' || view.state === 'failed') {
        const m = view.moves?.[0];
        return {
          state: view.state,
          jobId,
          window: { from, to: now },
          stagesSeen,
          rowsCopied: m?.rowsCopied ?? 0,
          rowsPerSecond: m?.rowsPerSecond,
          fenceMs: m?.fenceMs,
          error: view.error ?? m?.error,
        };
      }
    }
    if (now - from > timeoutMs) {
      return { state: 'timeout', jobId, window: { from, to: now }, stagesSeen, rowsCopied: view?.moves?.[0]?.rowsCopied ?? 0, rowsPerSecond: undefined, fenceMs: undefined, error: `not finished after ${timeoutMs} ms (last state ${view?.state ?? 'unknown'})` };
    }
    await sleep(POLL_MS);
  }
}

/** Server-side timings of a move: numbers from its catalog record, not part of the job JSON. */
export type ServerTimings = Readonly<Record<string, number | Readonly<Record<string, number>> | readonly string[]>>;

/**
 * Where the mover says the time went (`tenant_moves.detail`: stageMs, copyMs, fenceDrainMs,
 * fenceCatchUpMs…), read from the catalog. A diagnostic only: the job JSON does not carry
 * stage timings, and the mover's internals change; whatever numbers the detail holds are
 * kept, and a catalog that cannot be read yields nothing rather than failing the run.
 */
export async function serverTimings(catalogUrl: string, jobIds: readonly string[]): Promise<Map<string, ServerTimings>> {
  const out = new Map<string, ServerTimings>();
  if (jobIds.length === 0) return out;
  const client = new pg.Client({ connectionString: catalogUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ job_id: string; detail: Record<string, unknown> }>('SELECT job_id, detail FROM tenant_moves WHERE job_id = ANY($1)', [jobIds]);
    for (const { job_id, detail } of rows) {
      const kept: Record<string, number | Record<string, number> | string[]> = {};
      for (const [k, v] of Object.entries(detail ?? {})) {
        if (typeof v === 'number') kept[k] = Math.round(v);
        else if (k === 'stageMs' && typeof v === 'object' && v !== null) kept[k] = v as Record<string, number>;
        // objects a rollback could not remove: worth seeing in a benchmark report too
        else if (k === 'leftovers' && Array.isArray(v) && v.length > 0) kept[k] = v as string[];
      }
      out.set(job_id, kept);
    }
  } catch (err) {
    console.log(`bench: move timings from the catalog unavailable (${err instanceof Error ? err.message : String(err)})`);
  } finally {
    await client.end().catch(() => undefined);
  }
  return out;
}
