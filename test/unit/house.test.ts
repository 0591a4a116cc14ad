import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The house rules of docs/architecture.md, checked against the code: every folder of src/
 * is described, a module imports only what its row allows, folders stay small, files stay
 * short, no import circle, and tenant routes leave routing to the session.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const SRC = path.join(ROOT, 'src');
const DOC = readFileSync(path.join(ROOT, 'docs', 'architecture.md'), 'utf8');

interface Row {
  readonly module: string; // 'http/routes/' or 'main.ts'
  readonly text: string;
  readonly mayImport: readonly string[] | 'anything';
}

function moduleTable(): Row[] {
  const rows: Row[] = [];
  for (const line of DOC.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const match = /^`src\/([^`]*)`$/.exec(cells[1] ?? '');
    if (!match || cells.length < 5) continue;
    const last = cells[cells.length - 2]!;
    const mayImport = last === 'anything' ? 'anything' : [...last.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    rows.push({ module: match[1]!, text: line, mayImport });
  }
  return rows;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

const rows = moduleTable();
const files = walk(SRC).filter((f) => f.endsWith('.ts'));
const rel = (file: string) => path.relative(SRC, file).split(path.sep).join('/');

/** The row a src-relative path belongs to: its own file row, else the deepest folder row above it. */
function moduleOf(relPath: string): string | undefined {
  if (rows.some((r) => r.module === relPath)) return relPath;
  return rows
    .filter((r) => r.module.endsWith('/') && relPath.startsWith(r.module))
    .sort((a, b) => b.module.length - a.module.length)[0]?.module;
}

/** Relative imports of a file, resolved to paths under the repository root. */
function imports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(/^(?:import|export)\b[^;]*?from\s+'(\.{1,2}\/[^']+)'/gm)].map((m) =>
    path.relative(ROOT, path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, '.ts'))).split(path.sep).join('/'),
  );
}

describe('the house (docs/architecture.md against src/)', () => {
  it('has a row for the module table to check', () => {
    expect(rows.length).to.be.greaterThan(20);
  });

  it('describes every folder of src/', () => {
    const folders = new Set(files.map((f) => path.dirname(rel(f))).filter((d) => d !== '.'));
    for (const folder of folders) {
      const owner = moduleOf(`${folder}/x.ts`);
      expect(owner, `${folder}/ has no row`).to.not.equal(undefined);
      if (owner === `${folder}/`) continue;
      // a sub-folder without a row of its own is named in its parent's row
      const text = rows.find((r) => r.module === owner)!.text;
      expect(text, `${folder}/ is not named in the row of src/${owner}`).to.include(`${path.basename(folder)}/`);
    }
    for (const row of rows) {
      const exists = files.some((f) => (row.module.endsWith('/') ? rel(f).startsWith(row.module) : rel(f) === row.module));
      expect(exists, `the row src/${row.module} describes nothing that exists`).to.equal(true);
    }
  });

  it('lets each module import only what its row allows', () => {
    const offences: string[] = [];
    for (const file of files) {
      const own = moduleOf(rel(file))!;
      const row = rows.find((r) => r.module === own)!;
      if (row.mayImport === 'anything') continue;
      for (const target of imports(file)) {
        const module = target.startsWith('src/') ? moduleOf(target.slice(4)) : `${target.split('/').slice(0, 2).join('/')}/`;
        if (module === own) continue;
        if (!row.mayImport.includes(module ?? '?')) offences.push(`${rel(file)} imports ${target} (src/${own} may not import ${module})`);
      }
    }
    expect(offences).to.deep.equal([]);
  });

  it('keeps shard migrations free of the gateway (no loop between shards/ and src/)', () => {
    const migrations = walk(path.join(ROOT, 'shards', 'migrations')).filter((f) => f.endsWith('.ts'));
    for (const file of migrations) {
      for (const target of imports(file)) expect(target, path.relative(ROOT, file)).to.match(/^shards\/migrations\//);
    }
  });

  it('keeps folders at 14 files or fewer and files at 400 lines or fewer', () => {
    const perFolder = new Map<string, number>();
    for (const file of walk(SRC)) perFolder.set(path.dirname(file), (perFolder.get(path.dirname(file)) ?? 0) + 1);
    for (const [folder, count] of perFolder) expect(count, path.relative(ROOT, folder)).to.be.at.most(14);
    for (const file of files) expect(readFileSync(file, 'utf8').split('\n').length, rel(file)).to.be.at.most(400);
  });

  it('has no import circle', () => {
    const graph = new Map(files.map((f) => [path.relative(ROOT, f), imports(f).filter((t) => t.startsWith('src/'))]));
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (node: string, trail: string[]): void => {
      if (state.get(node) === 'done') return;
      if (state.get(node) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(node)), node].join(' → '));
        return;
      }
      state.set(node, 'open');
      for (const next of graph.get(node) ?? []) visit(next, [...trail, node]);
      state.set(node, 'done');
    };
    for (const node of graph.keys()) visit(node, []);
    expect(cycles).to.deep.equal([]);
  });

  it('leaves routing to the session: no tenant route picks a node, names a tenant id or sets a consistency token', () => {
    for (const file of walk(path.join(SRC, 'http', 'routes', 'tenant'))) {
      const source = readFileSync(file, 'utf8');
      for (const pattern of [/forWrite|forRead|\.node\b|registry|router\.route/, /tenantId/, /X-Consistency-Token|consistencyToken/i]) {
        expect(source, `${rel(file)} matches ${pattern}`).not.to.match(pattern);
      }
    }
  });
});
