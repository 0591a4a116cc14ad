import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { escapeIdentifier, escapeLiteral } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { openAdminClient, type AdminClient, type AdminClientOptions } from './admin-client.js';
import { fkOrder, type TenantTable } from './shard-admin-sql.js';

/** The move's slot, created with an exported snapshot: the rows as of that snapshot plus what the slot streams are the tenant exactly. */
export interface ExportedSlot {
  /** snapshot name for SET TRANSACTION SNAPSHOT: valid until release() */
  readonly snapshot: string;
  /** where the slot's stream starts: every change committed after the snapshot */
  readonly lsn: string;
  release(): Promise<void>;
}

/**
 * Creates the move's logical slot over a replication connection, exporting the snapshot
 * it starts from. Waits for transactions running on the source to finish (as any slot
 * creation does). The snapshot stays importable only while this connection runs no other
 * command: import it, then release().
 */
export async function createExportedSlot(url: string, options: AdminClientOptions, name: string): Promise<ExportedSlot> {
  if (!/^sg_move_[0-9a-f]+$/.test(name)) throw new Error(`not a move's slot name: ${name}`);
  const walsender = await openAdminClient(url, options, 'slot', 'replication');
  try {
    // untraced: the pg instrumentation's sqlcommenter would append a comment, which the
    // replication command grammar rejects as a syntax error
    const { rows } = await context.with(suppressTracing(context.active()), () =>
      walsender.query<{ consistent_point: string; snapshot_name: string }>(`CREATE_REPLICATION_SLOT ${name} LOGICAL pgoutput (SNAPSHOT 'export')`),
    );
    const row = rows[0];
    if (!row?.snapshot_name) throw new Error(`creating slot ${name} exported no snapshot`);
    return { snapshot: row.snapshot_name, lsn: row.consistent_point, release: () => walsender.end().catch(() => undefined) };
  } catch (err) {
    await walsender.end().catch(() => undefined);
    throw err;
  }
}

/** Opens a read-only REPEATABLE READ transaction on `reader` that sees exactly the exported snapshot. */
async function importSnapshot(reader: AdminClient, snapshot: string): Promise<void> {
  await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  await reader.query(`SET TRANSACTION SNAPSHOT ${escapeLiteral(snapshot)}`);
}

export interface CopyLimits {
  /** rows between progress reports (and checks of the rate limit's budget) */
  readonly batchRows: number;
  /** rows a second at most, over the whole copy; 0: as fast as the servers go */
  readonly rowsPerSecond: number;
  /** waits ms (and throws when the move is stopped) */
  readonly pause: (ms: number) => Promise<void>;
  /** after every committed batch: rows of `table` copied so far in all */
  readonly onBatch: (table: string, rows: number) => Promise<void> | void;
}

/** Lane `lane` of `lanes`: the rows of the heap blocks it owns (any table, no key assumed), in COPY's text format. */
const copyOutSql = (t: TenantTable, tenantId: string, lane: number, lanes: number): string => {
  const cols = t.columns.map(escapeIdentifier).join(', ');
  const share = lanes > 1 ? ` AND ((ctid::text::point)[0]::bigint % ${lanes}) = ${lane}` : '';
  // COPY takes no bind parameters: the tenant id is quoted as a literal
  return `COPY (SELECT ${cols} FROM ${escapeIdentifier(t.name)} WHERE tenant_id = ${escapeLiteral(tenantId)}${share}) TO STDOUT`;
};

const copyInSql = (t: TenantTable): string => `COPY ${escapeIdentifier(t.name)} (${t.columns.map(escapeIdentifier).join(', ')}) FROM STDIN`;

const NEWLINE = 0x0a;

/**
 * What a stream may be destroyed with: an Error. A stopped move rejects with its abort
 * reason (a string), and pg-copy-streams sends `err.message` as the COPY's failure message,
 * which must exist.
 */
const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err), { cause: err }));

/**
 * Submits a copy stream past the pg instrumentation: with SQL comments on, it re-spreads a
 * query object that has text and no `name` into a plain object (to append the comment),
 * which loses the stream's prototype, and pg then runs it as a plain query returning a
 * promise. A name keeps the object as it is; no span is recorded (nothing would end it).
 */
function untraced<S extends CopyStream>(client: AdminClient, stream: S): S {
  Object.assign(stream, { name: 'shardgate-move-copy' });
  return context.with(suppressTracing(context.active()), () => client.query(stream));
}

type CopyStream = ReturnType<typeof copyTo> | ReturnType<typeof copyFrom>;

/**
 * Counts the rows passing through (in COPY's text format a row ends with the only raw
 * newline: one inside a value is escaped), reports every `interval` rows, and holds the
 * stream back while a report is pending (the rate limit waits there): backpressure reaches the source.
 */
class RowCounter extends Transform {
  rows = 0;
  #reported = 0;
  readonly #interval: number;
  readonly #report: (rows: number) => Promise<void>;
  constructor(interval: number, report: (rows: number) => Promise<void>) {
    super();
    this.#interval = interval;
    this.#report = report;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) this.rows++;
    if (this.rows - this.#reported < this.#interval) {
      done(null, chunk);
      return;
    }
    this.#reported = this.rows;
    this.#report(this.rows).then(() => done(null, chunk), (err: unknown) => done(asError(err)));
  }

  override _flush(done: TransformCallback): void {
    this.#report(this.rows).then(() => done(), (err: unknown) => done(asError(err)));
  }
}

/** One reader (in the snapshot) and one writer (on the target): a copy runs several side by side. */
export interface CopyLane {
  readonly reader: AdminClient;
  readonly writer: AdminClient;
}

/**
 * `n` lanes whose readers all see the slot's snapshot (imported while its walsender still
 * holds it); the walsender is released either way. On failure nothing is left open.
 */
export async function openCopyLanes(slot: ExportedSlot, sourceUrl: string, targetUrl: string, options: AdminClientOptions, n: number): Promise<CopyLane[]> {
  const lanes: CopyLane[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const reader = await openAdminClient(sourceUrl, options, `copy:read:${i}`);
      lanes.push({ reader, writer: await openAdminClient(targetUrl, options, `copy:write:${i}`).catch(async (err: unknown) => {
        await reader.end().catch(() => undefined);
        throw err;
      }) });
      await importSnapshot(reader, slot.snapshot);
    }
    return lanes;
  } catch (err) {
    await closeCopyLanes(lanes);
    throw err;
  } finally {
    await slot.release();
  }
}

export async function closeCopyLanes(lanes: readonly CopyLane[]): Promise<void> {
  await Promise.all(lanes.flatMap((l) => [l.reader.end().catch(() => undefined), l.writer.end().catch(() => undefined)]));
}

/**
 * Copies the tenant's rows, as the readers' snapshot sees them, to the target: tables
 * parents first; each table split over the lanes by heap block, so the target's index
 * maintenance (most of a copy's cost) runs on as many cores as there are lanes. Each lane
 * streams PostgreSQL's own COPY out of the source into a COPY into the target (the text
 * format: every type's own output and input functions, so values arrive exact), paced by
 * the rate limit through backpressure; a failed copy is rolled back by deleting the
 * tenant's rows on the target. Writers pass the target's fence (a tombstone from a move
 * away from it must not stop the copy) and skip waiting for their WAL flush: the fence
 * stage flushes the target before cutover.
 */
export async function copySnapshot(lanes: readonly CopyLane[], tenantId: string, tables: readonly TenantTable[], limits: CopyLimits): Promise<Record<string, number>> {
  for (const { writer } of lanes) {
    await writer.query(`SET shardgate.bypass_fence = 'on'`);
    await writer.query('SET synchronous_commit = off');
  }
  const copied: Record<string, number> = {};
  const started = performance.now();
  let total = 0;
  // a lane that fails stops the others at their next report
  let failure: { reason: unknown } | undefined;
  const laneCopy = async ({ reader, writer }: CopyLane, i: number, t: TenantTable): Promise<void> => {
    let counted = 0;
    const counter = new RowCounter(limits.batchRows, async (rows) => {
      if (failure) throw failure.reason;
      copied[t.name]! += rows - counted;
      total += rows - counted;
      counted = rows;
      await limits.onBatch(t.name, copied[t.name]!);
      if (limits.rowsPerSecond > 0) {
        // one budget for all lanes
        const due = (total / limits.rowsPerSecond) * 1000 - (performance.now() - started);
        if (due > 0) await limits.pause(due);
      }
    });
    try {
      await pipeline(untraced(reader, copyTo(copyOutSql(t, tenantId, i, lanes.length))), counter, untraced(writer, copyFrom(copyInSql(t))));
    } catch (err) {
      failure ??= { reason: err };
      throw err;
    }
  };
  for (const t of fkOrder(tables)) {
    copied[t.name] = 0;
    // every lane finishes a table before the next starts: children never arrive before their parents
    await Promise.allSettled(lanes.map((l, i) => laneCopy(l, i, t)));
    if (failure) throw failure.reason;
  }
  return copied;
}
