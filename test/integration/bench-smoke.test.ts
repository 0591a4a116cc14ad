import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testCluster } from '../support/test-cluster.js';

const REPO_DIR = path.resolve(__dirname, '..', '..');

const SCENARIOS = [
  'baseline-raw-http-pg-read',
  'baseline-raw-http-pg-read-rls',
  'baseline-express-pg-read',
  'baseline-naive-sequelize-read',
  'baseline-naive-sequelize-write',
  'shardgate-read-cache-off',
  'shardgate-read-cache-off-unprepared',
  'shardgate-read-cache-off-tracing-off',
  'shardgate-read-cache-off-trace-all',
  'shardgate-read-cache-hit',
  'shardgate-write',
  'shardgate-write-patch',
  'shardgate-mix-90-10',
  'shardgate-read-token',
];
const MOVE_KEYS = ['rows_per_s', 'pg_copy_rows_per_s', 'copy_vs_pg_copy', 'write_pause_p50_ms', 'write_pause_p99_ms', 'write_pause_max_ms', 'fence_ms_p99', 'others_p99_ratio', 'writes', 'write_errors', 'lost_writes', 'moves_failed'];
const RATIOS = ['routed_read_vs_raw', 'routed_read_vs_express_raw', 'routed_read_vs_naive', 'cache_hit_vs_routed_read', 'write_vs_naive', 'prepared_vs_unprepared'];

/**
 * What `npm run bench -- args…` runs, minus npm and the tsx CLI in between: on a timeout the
 * SIGTERM then reaches the harness itself, which stops its server processes before exiting.
 */
function bench(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: REPO_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function expectFinite(value: unknown, what: string): void {
  expect(value, what).to.be.a('number');
  expect(Number.isFinite(value), `${what} is finite`).to.equal(true);
}

// The harness must never rot: a short run against the test cluster, checking the shape of
// what it writes (never the speed: the test machine is shared and noisy).
describe('bench: npm run bench -- --smoke', function () {
  this.timeout(170_000);
  let dir: string;
  before(() => {
    testCluster(); // fails clearly outside `npm test`
    dir = mkdtempSync(path.join(os.tmpdir(), 'shardgate-bench-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every scenario, a tenant move and the routing micro-benchmark, and writes the results file', async () => {
    const out = path.join(dir, 'smoke.json');
    const run = await bench(['--smoke', '--cluster', process.env.SHARDGATE_TEST_CLUSTER!, '--out', out], 160_000);
    expect(run.code, run.output).to.equal(0);

    const report = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
    expect(report).to.include.all.keys('machine', 'scenarios', 'ratios', 'cpu_ratios', 'checks', 'routing', 'move', 'rls');
    // the routed read counts who served it: replicas, unless routing broke (a brief lag spike may send a few to the primary)
    const share = (report.checks as Record<string, unknown>).routed_read_replica_share;
    expectFinite(share, 'checks.routed_read_replica_share');
    expect(share as number, 'checks.routed_read_replica_share').to.be.within(0.5, 1);
    const machine = report.machine as Record<string, unknown>;
    expect(machine.cpu).to.be.a('string');
    expectFinite(machine.nproc, 'machine.nproc');

    const scenarios = report.scenarios as Record<string, unknown>[];
    expect(scenarios.map((s) => s.name)).to.deep.equal(SCENARIOS);
    for (const s of scenarios) {
      for (const key of ['rps', 'p50_ms', 'p99_ms', 'errors']) {
        expectFinite(s[key], `${String(s.name)}.${key}`);
        expect(s[key] as number, `${String(s.name)}.${key}`).to.be.at.least(0);
      }
      expect(Number.isInteger(s.errors), `${String(s.name)}.errors is a count`).to.equal(true);
      // the test cluster runs on this machine: the database side is always readable
      expectFinite(s.db_cpu_us_per_req, `${String(s.name)}.db_cpu_us_per_req`);
    }
    // the raw read under row-level security answered rows (RLS scoped, not empty): no errors
    expect(scenarios.find((s) => s.name === 'baseline-raw-http-pg-read-rls')!.errors).to.equal(0);
    const rls = report.rls as Record<string, unknown>;
    for (const key of ['server_us', 'db_us', 'read_us', 'share_of_read']) expectFinite(rls[key], `rls.${key}`);

    for (const field of ['ratios', 'cpu_ratios']) {
      const ratios = report[field] as Record<string, unknown>;
      expect(ratios, field).to.have.all.keys(...RATIOS);
      // null only when a denominator served nothing in its second (a very busy machine)
      for (const key of RATIOS) if (ratios[key] !== null) expectFinite(ratios[key], `${field}.${key}`);
    }

    const routing = report.routing as Record<string, unknown>;
    for (const key of ['ns_per_op', 'tenants', 'pins', 'heap_mb']) expectFinite(routing[key], `routing.${key}`);
    expect(routing.ns_per_op as number).to.be.greaterThan(0);

    // one small move through the admin API; its numbers are reported, never judged here
    const move = report.move as Record<string, unknown>;
    expect(move, 'move').to.include.all.keys(...MOVE_KEYS);
    const moves = move.moves as Record<string, unknown>[];
    expect(moves).to.have.length(1);
    expect(moves[0]!.state, `the move: ${String(moves[0]!.error)}`).to.equal('succeeded');
    for (const key of MOVE_KEYS) if (key !== 'others_p99_ratio' || move[key] !== null) expectFinite(move[key], `move.${key}`);
    expect(move.writes as number, 'the moving tenant was written to').to.be.greaterThan(0);

    // transfers between partners on two shards, both protocols: figures reported, conservation checked
    const transfers = report.transfers as Record<string, unknown>;
    for (const key of ['saga_per_s', 'twopc_per_s', 'p99_ms']) expectFinite(transfers[key], `transfers.${key}`);
    expect([transfers.saga_per_s as number, transfers.twopc_per_s as number].every((n) => n > 0), JSON.stringify(transfers)).to.equal(true);
    expect(transfers.stock_conserved, 'stock conserved across every pair').to.equal(true);
  });
});
