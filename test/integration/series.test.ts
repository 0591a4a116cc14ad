import { expect } from 'chai';
import pg from 'pg';
import { TestGateway, TestTenant, sql, sqlSession, testCluster, type HttpResult, type Json } from '../support/test-cluster.js';

const strong = { 'x-consistency': 'strong' };
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

interface Point {
  series: string;
  ts: number;
  value: number;
  labels?: Record<string, string>;
}

/** percentile_cont: linear interpolation between the closest ranks */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = p * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** What the API must answer, recomputed here from the points the test sent. */
function expected(points: Point[], from: number, to: number, step: number, agg: string, labels: Record<string, string> = {}): Array<{ ts: string; value: number | null }> {
  const out: Array<{ ts: string; value: number | null }> = [];
  for (let b = Math.floor(from / step) * step; b < to; b += step) {
    const inside = points.filter(
      (p) => p.ts >= Math.max(b, from) && p.ts < Math.min(b + step, to) && Object.entries(labels).every(([k, v]) => p.labels?.[k] === v),
    );
    const values = inside.map((p) => p.value);
    let value: number | null = null;
    if (values.length > 0) {
      if (agg === 'avg') value = values.reduce((a, v) => a + v, 0) / values.length;
      if (agg === 'sum') value = values.reduce((a, v) => a + v, 0);
      if (agg === 'min') value = Math.min(...values);
      if (agg === 'max') value = Math.max(...values);
      if (agg === 'count') value = values.length;
      if (agg === 'last') value = inside.reduce((a, p) => (p.ts > a.ts ? p : a)).value;
      if (agg === 'p50') value = percentile(values, 0.5);
      if (agg === 'p95') value = percentile(values, 0.95);
      if (agg === 'p99') value = percentile(values, 0.99);
    }
    out.push({ ts: new Date(b).toISOString(), value });
  }
  return out;
}

function expectBuckets(actual: Json[], wanted: Array<{ ts: string; value: number | null }>, what: string): void {
  expect(actual.map((p) => p.ts), `${what}: buckets`).to.deep.equal(wanted.map((p) => p.ts));
  actual.forEach((p, i) => {
    const want = wanted[i]!.value;
    if (want === null) expect(p.value, `${what} @ ${String(p.ts)}`).to.equal(null);
    else expect(p.value as number, `${what} @ ${String(p.ts)}`).to.be.closeTo(want, 1e-9 * Math.max(1, Math.abs(want)));
  });
}

// Time series: points in a table partitioned by day, buckets aligned to the epoch and
// gap-filled, minute and hour rollups kept by the ingest, retention by dropping partitions.
describe('time series: /v1/series', function () {
  this.timeout(90_000);
  let gw: TestGateway;
  let tenant: TestTenant;
  // two days ago at 00:00 UTC: inside retention, on the partitions the keeper made
  const day0 = Math.floor(Date.now() / DAY) * DAY - 2 * DAY;
  const points: Point[] = [];
  before(async () => {
    // a fenced write is refused after the placement fails to move within this (the fence test waits it out)
    gw = await TestGateway.start({ moves: { fenceTimeoutMs: 300 } });
    tenant = await gw.createTenant('series');
    // cpu over 3 hours before and after midnight (a UTC day boundary), two hosts, a gap in the middle
    for (let i = 0; i < 360; i++) {
      const ts = day0 - 3 * HOUR + i * 37_000;
      if (ts >= day0 + 30 * MIN && ts < day0 + 50 * MIN) continue;
      points.push({ series: 'cpu.load', ts, value: Math.round(Math.sin(i / 7) * 1000) / 10 + i / 3, labels: { host: i % 3 === 0 ? 'b' : 'a', dc: 'eu' } });
    }
  });
  after(async () => {
    await gw?.stop();
  });

  const primaryOf = (t: TestTenant) => testCluster().shards.find((s) => s.id === t.shard)!.admin.primary;
  const ingest = (t: TestTenant, body: unknown): Promise<HttpResult> => t.request('POST', '/v1/series', { body });
  const query = (t: TestTenant, name: string, q: string): Promise<HttpResult> => t.request('GET', `/v1/series/${name}?${q}`, { headers: strong });
  const iso = (ms: number) => new Date(ms).toISOString();

  it('ingests a batch in one transaction and stores it in day partitions of a partitioned table', async () => {
    const res = await ingest(tenant, { points: points.map((p, i) => ({ ...p, ts: i % 2 === 0 ? p.ts : iso(p.ts) })) });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.deep.equal({ accepted: points.length });

    const url = primaryOf(tenant);
    const [parent] = await sql<{ relkind: string }>(url, `SELECT relkind::text FROM pg_class WHERE relname = 'series_points'`);
    expect(parent!.relkind, 'partitioned').to.equal('p');
    const where = await sql<{ part: string; n: number }>(
      url,
      `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM series_points WHERE tenant_id = $1 GROUP BY 1 ORDER BY 1`,
      [tenant.id],
    );
    const dayName = (ms: number) => `series_points_p${iso(ms).slice(0, 10).replaceAll('-', '')}`;
    expect(where.map((w) => w.part)).to.deep.equal([dayName(day0 - DAY), dayName(day0)]);
    expect(where.reduce((a, w) => a + w.n, 0)).to.equal(points.length);
  });

  it('buckets every aggregate exactly as recomputed from the points, gap-filled, across a UTC day boundary', async () => {
    const from = day0 - 3 * HOUR + 17_000;
    const to = day0 + 2 * HOUR;
    for (const agg of ['avg', 'min', 'max', 'sum', 'count', 'last', 'p50', 'p95', 'p99']) {
      const res = await query(tenant, 'cpu.load', `from=${iso(from)}&to=${to}&step=10m&agg=${agg}`);
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.include({ series: 'cpu.load', step: '10m', agg });
      expectBuckets(res.body.points as Json[], expected(points, from, to, 10 * MIN, agg), agg);
    }
    const gap = (await query(tenant, 'cpu.load', `from=${day0 + 30 * MIN}&to=${day0 + 50 * MIN}&step=5m&agg=count`)).body.points as Json[];
    expect(gap.map((p) => p.value), 'the gap: every bucket, each empty').to.deep.equal([null, null, null, null]);
    // the day boundary: 1d buckets start at 00:00 UTC
    const days = (await query(tenant, 'cpu.load', `from=${day0 - DAY}&to=${day0 + DAY}&step=1d&agg=count`)).body.points as Json[];
    expect(days.map((p) => p.ts)).to.deep.equal([iso(day0 - DAY), iso(day0)]);
    expect(days.map((p) => p.value)).to.deep.equal([points.filter((p) => p.ts < day0).length, points.filter((p) => p.ts >= day0).length]);
  });

  it('filters by labels', async () => {
    const from = day0 - 3 * HOUR;
    const to = day0 + 2 * HOUR;
    for (const agg of ['avg', 'count', 'p95']) {
      const res = await query(tenant, 'cpu.load', `from=${from}&to=${to}&step=1h&agg=${agg}&labels=host:b,dc:eu`);
      expectBuckets(res.body.points as Json[], expected(points, from, to, HOUR, agg, { host: 'b', dc: 'eu' }), `${agg} host b`);
    }
    const none = await query(tenant, 'cpu.load', `from=${from}&to=${to}&step=1h&agg=count&labels=host:z`);
    expect((none.body.points as Json[]).every((p) => p.value === null)).to.equal(true);
  });

  it('reads long aligned ranges from the hour rollups, kept exact by the ingest', async () => {
    const from = day0 - 3 * HOUR;
    const to = day0 + 3 * HOUR;
    const hourly = (agg: string) => query(tenant, 'cpu.load', `from=${from}&to=${to}&step=1h&agg=${agg}`);
    for (const agg of ['avg', 'min', 'max', 'sum', 'count', 'last']) expectBuckets((await hourly(agg)).body.points as Json[], expected(points, from, to, HOUR, agg), `rollup ${agg}`);

    const url = primaryOf(tenant);
    const [rollups] = await sql<{ n: number }>(url, `SELECT count(*)::int AS n FROM series_rollups WHERE tenant_id = $1 AND width = '1h'`, [tenant.id]);
    // one row per hour and label set that has points
    expect(rollups!.n).to.equal(new Set(points.map((p) => `${Math.floor(p.ts / HOUR)}:${p.labels!.host}`)).size);
    // behind the API's back, the raw points of one hour go: the rollup still answers that hour (it is what was read)
    const hour = points.filter((p) => p.ts >= day0 && p.ts < day0 + HOUR);
    expect(hour.length).to.be.greaterThan(10);
    await sql(url, 'DELETE FROM series_points WHERE tenant_id = $1 AND ts >= $2 AND ts < $3', [tenant.id, iso(day0), iso(day0 + HOUR)]);
    const fromRollup = ((await hourly('count')).body.points as Json[])[3]!;
    expect(fromRollup.value, 'count of that hour, from the rollup').to.equal(hour.length);
    const fromRaw = ((await query(tenant, 'cpu.load', `from=${from}&to=${to}&step=1h&agg=p50`)).body.points as Json[])[3]!;
    expect(fromRaw.value, 'a percentile reads the points').to.equal(null);
    // put them back for the tests after
    expect((await ingest(tenant, { points: hour })).status).to.equal(200);
  });

  it('counts a re-posted batch once, and a changed value replaces the old one (rollups too)', async () => {
    const batch = points.slice(0, 50);
    expect((await ingest(tenant, { points: batch })).status).to.equal(200);
    const changed = batch.map((p) => ({ ...p, value: p.value + 1000 }));
    expect((await ingest(tenant, { points: [...changed, changed[0]!] })).status, 'a repeat inside one batch').to.equal(200);
    const updated = points.map((p, i) => (i < 50 ? changed[i]! : p));
    const from = day0 - 3 * HOUR;
    const to = day0 + 3 * HOUR;
    for (const agg of ['count', 'sum', 'max']) {
      expectBuckets((await query(tenant, 'cpu.load', `from=${from}&to=${to}&step=1h&agg=${agg}`)).body.points as Json[], expected(updated, from, to, HOUR, agg), agg);
    }
    const list = await tenant.request('GET', '/v1/series', { headers: strong });
    expect(list.body.items).to.deep.equal([{ series: 'cpu.load', points: points.length, firstTs: iso(points[0]!.ts), lastTs: iso(points.at(-1)!.ts) }]);
  });

  it('audits each batch once per series it wrote, not once per point', async () => {
    const t = await gw.createTenant('series-audit');
    const now = Date.now();
    const batch = [
      ...Array.from({ length: 30 }, (_, i) => ({ series: 'a.one', ts: now - HOUR + i * 1000, value: i, labels: { h: String(i % 3) } })),
      ...Array.from({ length: 5 }, (_, i) => ({ series: 'a.two', ts: now - HOUR + i * 1000, value: i })),
    ];
    expect((await ingest(t, { points: batch })).status).to.equal(200);
    const trail = await t.request('GET', '/v1/audit?table=series_points', { headers: strong });
    expect(trail.status, trail.text).to.equal(200);
    // one row per series, written in one statement (same time: compared by series)
    const entries = (trail.body.items as Json[])
      .map((e) => ({ recordId: e.recordId as string, action: e.action, actor: e.actor, new: e.new }))
      .sort((x, y) => x.recordId.localeCompare(y.recordId));
    expect(entries).to.deep.equal([
      { recordId: 'a.one', action: 'create', actor: `tenant:${t.id}`, new: { points: 30, labelSets: 3, firstTs: iso(now - HOUR), lastTs: iso(now - HOUR + 29_000) } },
      { recordId: 'a.two', action: 'create', actor: `tenant:${t.id}`, new: { points: 5, labelSets: 1, firstTs: iso(now - HOUR), lastTs: iso(now - HOUR + 4_000) } },
    ]);
    const one = await t.request('GET', '/v1/audit?table=series_points&recordId=a.two', { headers: strong });
    expect((one.body.items as Json[]).map((e) => e.recordId)).to.deep.equal(['a.two']);
  });

  it('refuses a point outside retention, and bad input, with a 400 naming the field', async () => {
    const ok = { series: 'x', ts: Date.now(), value: 1 };
    const cases: Array<[unknown, string]> = [
      [{ points: [ok, { ...ok, ts: Date.now() - 40 * DAY }] }, 'points[1].ts'],
      [{ points: [{ ...ok, ts: Date.now() + 3 * DAY }] }, 'points[0].ts'],
      [{ points: [{ ...ok, series: 'Bad Name' }] }, 'points[0].series'],
      [{ points: [{ ...ok, value: '1' }] }, 'points[0].value'],
      [{ points: [{ ...ok, ts: 'yesterday' }] }, 'points[0].ts'],
      [{ points: [{ ...ok, labels: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }] }, 'points[0].labels'],
      [{ points: [{ ...ok, labels: { host: 7 } }] }, 'points[0].labels.host'],
      [{ points: [] }, 'points'],
      [{ points: Array.from({ length: 10_001 }, () => ok) }, 'points'],
      [{ points: [{ ...ok, extra: 1 }] }, 'points[0].extra'],
    ];
    for (const [body, field] of cases) {
      const res = await ingest(tenant, body);
      expect([res.status, res.body.field], `${field}: ${res.text.slice(0, 200)}`).to.deep.equal([400, field]);
    }
    const [stored] = await sql<{ n: number }>(primaryOf(tenant), `SELECT count(*)::int AS n FROM series_points WHERE tenant_id = $1 AND series = 'x'`, [tenant.id]);
    expect(stored!.n, 'nothing of a refused batch').to.equal(0);

    const now = Date.now();
    for (const [q, field] of [
      [`to=${now}`, 'from'],
      [`from=${now}&to=${now - 1}`, 'to'],
      [`from=${now - DAY}&to=${now}&step=0s`, 'step'],
      [`from=${now - DAY}&to=${now}&step=2w`, 'step'],
      [`from=${now - 30 * DAY}&to=${now}&step=1m`, 'step'],
      [`from=${now - DAY}&to=${now}&agg=median`, 'agg'],
      [`from=${now - DAY}&to=${now}&labels=nocolon`, 'labels'],
      [`from=soon&to=${now}`, 'from'],
    ] as const) {
      const res = await query(tenant, 'cpu.load', q);
      expect([res.status, res.body.field], `${q}: ${res.text}`).to.deep.equal([400, field]);
    }
  });

  it('refuses a fenced tenant’s batch, new points and re-posted ones alike, and writes none of it (statement-level fence)', async () => {
    const t = await gw.createTenant('series-fence');
    const url = primaryOf(t);
    const batch = (value: number, from: number) =>
      Array.from({ length: 200 }, (_, i) => ({ series: 'fenced.x', ts: day0 + from + i * 1000, value: value + i, labels: { host: 'a' } }));
    expect((await ingest(t, { points: batch(1, 0) })).status).to.equal(200);
    const stored = () =>
      sql<{ n: number; total: number; rollup: number }>(
        url,
        `SELECT (SELECT count(*)::int FROM series_points WHERE tenant_id = $1) AS n, (SELECT sum(value)::float8 FROM series_points WHERE tenant_id = $1) AS total,
                (SELECT sum(sum)::float8 FROM series_rollups WHERE tenant_id = $1 AND width = '1m') AS rollup`,
        [t.id],
      );
    const before = await stored();

    await sql(url, "INSERT INTO tenant_fences (tenant_id, move_id) VALUES ($1, 'series-test')", [t.id]);
    try {
      for (const [what, points] of [['new points', batch(5, 10 * MIN)], ['re-posted points (ON CONFLICT … UPDATE)', batch(9, 0)]] as const) {
        const res = await ingest(t, { points });
        expect([res.status, res.body.code], what).to.deep.equal([503, 'TENANT_FENCED']);
      }
    } finally {
      await sql(url, 'DELETE FROM tenant_fences WHERE tenant_id = $1', [t.id]);
    }
    // a move holding the exclusive fence lock refuses the writer at once (it only tries the shared lock)
    const mover = new pg.Client({ connectionString: url });
    await mover.connect();
    try {
      await mover.query('SELECT pg_advisory_lock(7301, hashtext($1))', [t.id]);
      const res = await ingest(t, { points: batch(9, 0) });
      expect([res.status, res.body.code], 'under the move lock').to.deep.equal([503, 'TENANT_FENCED']);
    } finally {
      await mover.end();
    }
    expect(await stored(), 'nothing written while fenced').to.deep.equal(before);

    // the mover's cleanup: privileged and switched to bypass, it may delete; the bypass alone is not enough for others
    await sql(url, "INSERT INTO tenant_fences (tenant_id, move_id) VALUES ($1, 'series-test')", [t.id]);
    try {
      const run = (statement: string, bypass: boolean, asApp: boolean) =>
        sqlSession(url, [
          'BEGIN',
          ...(bypass ? ["SELECT set_config('shardgate.bypass_fence', 'on', true)"] : []),
          ...(asApp ? ['SET LOCAL ROLE shardgate_request', `SELECT set_config('shardgate.tenant_id', '${t.id}', true)`] : []),
          statement,
          'COMMIT',
        ]).then(
          () => 'written',
          (e: { code?: string }) => e.code,
        );
      // each statement on its own, so no other table's fence (rollups, audit) answers for the points table's
      const upsert = (ts: number) =>
        `INSERT INTO series_points (tenant_id, series, labels_key, labels, ts, value) VALUES ('${t.id}', 'fenced.x', '[["host","a"]]', '{"host":"a"}', '${iso(ts)}', 1)
         ON CONFLICT (tenant_id, series, labels_key, ts) DO UPDATE SET value = EXCLUDED.value`;
      expect(await run(upsert(day0 + 5_000_000), false, true), 'a new point').to.equal('SG001');
      expect(await run(upsert(day0), false, true), 'an existing point (the UPDATE of an upsert)').to.equal('SG001');
      const del = `DELETE FROM series_points WHERE tenant_id = '${t.id}' AND ts >= '${iso(day0)}' AND ts < '${iso(day0 + 10_000)}'`;
      expect(await run(del, false, false), 'privileged, no bypass').to.equal('SG001');
      expect(await run(del, true, true), 'bypass as the request role').to.be.oneOf(['SG001', '42501']);
      expect(await run(del, true, false), 'the mover’s cleanup').to.equal('written');
    } finally {
      await sql(url, 'DELETE FROM tenant_fences WHERE tenant_id = $1', [t.id]);
    }
    expect((await ingest(t, { points: batch(5, 10 * MIN) })).status, 'unfenced again').to.equal(200);
    expect((await stored())[0]!.n).to.equal(390);
  });

  it("shows another tenant none of it", async () => {
    const other = await gw.createTenant('series');
    const list = await other.request('GET', '/v1/series', { headers: strong });
    expect(list.body.items).to.deep.equal([]);
    const res = await query(other, 'cpu.load', `from=${day0 - 3 * HOUR}&to=${day0 + 3 * HOUR}&step=1h&agg=count`);
    expect((res.body.points as Json[]).every((p) => p.value === null)).to.equal(true);
  });

  it('keeps partitions ready ahead and drops those past retention', async () => {
    const url = primaryOf(tenant);
    const day = (offset: number) => iso(Math.floor(Date.now() / DAY) * DAY + offset * DAY).slice(0, 10);
    // an old day partition, as a shard that kept points longer would have
    await sql(url, `SELECT public.shardgate_series_partitions($1::date, $1::date, $1::date)`, [day(-400)]);
    const names = async () => (await sql<{ name: string }>(url, `SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'series_points'::regclass ORDER BY 1`)).map((r) => r.name);
    expect(await names()).to.include(`series_points_p${day(-400).replaceAll('-', '')}`);
    await gw.gateway.seriesPartitions.keepAll();
    const kept = await names();
    expect(kept).not.to.include(`series_points_p${day(-400).replaceAll('-', '')}`);
    for (let d = -30; d <= 3; d++) expect(kept, `day ${d}`).to.include(`series_points_p${day(d).replaceAll('-', '')}`);
  });
});
