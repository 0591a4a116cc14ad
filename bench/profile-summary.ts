/**
 * Where a shardgate process spent its CPU: self time by package / source folder, and the
 * hottest functions, from a V8 .cpuprofile (`npm run bench -- --cpu-prof <dir>` writes one
 * per contender; it covers the whole process life, startup included).
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top] [skip-seconds]
 * skip-seconds drops the first samples (boot, seeding) so the steady state under load shows.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** node_modules/<package>, src/<folder>, node:<module>, or V8's own (garbage collector), (program)… */
export function bucket(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(src|bench|shards)\/(?:([^/]+)\/)?/.exec(url);
  if (own) return own[2] && !own[2].includes('.') ? `${own[1]}/${own[2]}` : own[1]!;
  if (url.startsWith('node:')) return url.split('/')[0]!.replace(/^node:internal.*/, 'node:internal');
  return url;
}

export function summarize(profile: CpuProfile, top = 25, skipSeconds = 0): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let at = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at >= skipSeconds * 1e6) self.set(id, (self.get(id) ?? 0) + delta);
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
  const busy = Math.max(total - idle, 1);

  const buckets = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') continue;
    const b = bucket(f.url, f.functionName);
    buckets.set(b, (buckets.get(b) ?? 0) + us);
    const where = f.url ? `${f.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const rank = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    `busy ${(busy / 1e6).toFixed(1)} s of ${(total / 1e6).toFixed(1)} s sampled`,
    '', 'self time by package / folder:',
    ...rank(buckets).map(([k, us]) => `  ${pct(us)}  ${k}`),
    '', 'hottest functions (self):',
    ...rank(functions).map(([k, us]) => `  ${pct(us)}  ${k}`),
  ].join('\n');
}

if (require.main === module) {
  const [file, top, skip] = process.argv.slice(2);
  if (!file) throw new Error('usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top] [skip-seconds]');
  console.log(summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top ? Number(top) : 25, skip ? Number(skip) : 0));
}
