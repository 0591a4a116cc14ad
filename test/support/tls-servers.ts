import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, readdirSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './redis-server.js';

const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

/** A tool the TLS tests need: missing under CI=true is a failure, never a skip. */
export function requireTool(file: string): string {
  try {
    execFileSync(file, ['version'], { stdio: 'ignore' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${file} is not installed (apt-get install -y ${file})`, { cause: err });
  }
  return file;
}

export interface TestCa {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** a CA that signed nothing here: trusting it alone must fail */
  readonly otherCaCert: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A CA and a server certificate it signs, made with openssl in `dir`. The server's only
 * name is `name` (no IP address): a client connecting to 127.0.0.1 must be told the name.
 */
export function makeTestCa(dir: string, name: string): TestCa {
  requireTool('openssl');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca']) {
    openssl(dir, ['req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=shardgate test ${ca}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  }
  openssl(dir, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${name}`]);
  writeFileSync(path.join(dir, 'server.ext'), `subjectAltName=DNS:${name}\nextendedKeyUsage=serverAuth\n`);
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext']);
  chmodSync(path.join(dir, 'server.key'), 0o600);
  return { caCert: path.join(dir, 'ca.crt'), serverCert: path.join(dir, 'server.crt'), serverKey: path.join(dir, 'server.key'), otherCaCert: path.join(dir, 'other-ca.crt') };
}

/** The newest PostgreSQL (>= 15) server binaries on this machine (NOTES.md: /usr/lib/postgresql/N/bin). */
export function pgBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => Number(v) >= 15 && existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined) throw new Error('no PostgreSQL >= 15 server binaries (apt-get install -y postgresql, or set PG_BIN)');
  return path.join(root, newest, 'bin');
}

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL binary as the postgres user when we are root (PostgreSQL refuses to run as root). */
function asPg(file: string, args: string[]): string[] {
  return asRoot ? ['runuser', '-u', 'postgres', '--', file, ...args] : [file, ...args];
}

function chownToPg(target: string): void {
  if (!asRoot) return;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
  chownSync(target, uid, gid);
}

/** A PostgreSQL server of the test's own, with ssl=on and the test CA's server certificate. */
export class TlsPostgres {
  private constructor(
    readonly dataDir: string,
    readonly port: number,
  ) {}

  static async start(dir: string, ca: TestCa): Promise<TlsPostgres> {
    const bin = pgBin();
    const dataDir = path.join(dir, 'pg');
    const port = await freePort();
    if (asRoot) {
      execFileSync('chmod', ['755', dir]);
      for (const f of [ca.serverCert, ca.serverKey, ca.caCert]) chownToPg(f);
      execFileSync('mkdir', ['-p', dataDir]);
      chownToPg(dataDir);
    }
    const [cmd, ...args] = asPg(path.join(bin, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--no-instructions']);
    execFileSync(cmd!, args, { stdio: 'ignore' });
    const settings = [
      `port = ${port}`, "listen_addresses = '127.0.0.1'", "unix_socket_directories = ''", 'fsync = off', 'ssl = on',
      `ssl_cert_file = '${ca.serverCert}'`, `ssl_key_file = '${ca.serverKey}'`, 'max_connections = 20',
    ];
    writeFileSync(path.join(dataDir, 'postgresql.auto.conf'), `${settings.join('\n')}\n`);
    chownToPg(path.join(dataDir, 'postgresql.auto.conf'));
    const [ctl, ...ctlArgs] = asPg(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-l', path.join(dataDir, 'server.log'), '-w', '-t', '60', '-s', 'start']);
    execFileSync(ctl!, ctlArgs, { stdio: 'ignore' });
    return new TlsPostgres(dataDir, port);
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  stop(): void {
    const [ctl, ...args] = asPg(path.join(pgBin(), 'pg_ctl'), ['-D', this.dataDir, '-m', 'immediate', '-w', '-s', 'stop']);
    try {
      execFileSync(ctl!, args, { stdio: 'ignore' });
    } catch {
      // already stopped
    }
  }
}

/** A redis-server of the test's own listening only over TLS, with the test CA's server certificate. */
export class TlsRedis {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(ca: TestCa): Promise<TlsRedis> {
    const port = await freePort();
    const child = spawn(REDIS_SERVER, [
      '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--tls-cert-file', ca.serverCert, '--tls-key-file', ca.serverKey, '--tls-ca-cert-file', ca.caCert, '--tls-auth-clients', 'no',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`redis-server --tls-port exited (${code}): ${out}`)));
    });
    return new TlsRedis(child, port);
  }

  get url(): string {
    return `rediss://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}
