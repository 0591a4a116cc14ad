import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ADMIN_TOKEN } from './test-cluster.js';

const ROOT = path.resolve(__dirname, '..', '..');

export interface Running {
  readonly child: ChildProcess;
  readonly tenantUrl: string;
  readonly adminUrl: string;
  readonly exited: Promise<number | null>;
}

/** The gateway as a real process (`npm run start:cluster` style), against the test cluster. */
export async function startProcess(dir: string, extra: Record<string, unknown>, env: Record<string, string> = {}): Promise<Running> {
  const config = path.join(dir, `gateway-${Date.now()}.json`);
  const cluster = JSON.parse(readFileSync(process.env.SHARDGATE_TEST_CLUSTER!, 'utf8')) as Record<string, unknown>;
  writeFileSync(config, JSON.stringify({ ...cluster, port: 0, adminPort: 0, host: '127.0.0.1', ...extra }));
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './src/instrument.ts', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test', GATEWAY_CONFIG: config, GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ports = await new Promise<{ port: number; adminPort: number }>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('"gateway ready"')) continue;
        const parsed = JSON.parse(line) as { port: number; adminPort: number };
        resolve(parsed);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    void exited.then((code) => reject(new Error(`gateway exited early (${code}): ${out}`)));
  });
  return { child, exited, tenantUrl: `http://127.0.0.1:${ports.port}`, adminUrl: `http://127.0.0.1:${ports.adminPort}` };
}

