import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { PgTls, stripTlsParams } from '../../src/transport/pg-tls.js';
import { parsePemCertificates, readPemCertificates } from '../../src/transport/pem.js';
import { RedisTls } from '../../src/transport/redis-tls.js';
import { tlsFailureReason } from '../../src/transport/connect-failure.js';
import { loadConfig } from '../../src/config/load-config.js';
import { makeTestCa } from '../support/tls-servers.js';

/** What tls.checkServerIdentity reads of a certificate. */
const certFor = (name: string) => ({ subject: { CN: name }, subjectaltname: `DNS:${name}` }) as unknown as PeerCertificate;

describe('PostgreSQL TLS options (db.tls) and URL stripping', () => {
  let dir: string;
  let caFile: string;
  let caPem: string;

  before(function () {
    this.timeout(20_000);
    dir = mkdtempSync(path.join(tmpdir(), 'shardgate-pgtls-'));
    caFile = makeTestCa(dir, 'shard.test').caCert;
    caPem = readPemCertificates(caFile, 'db.tls.ca');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('strips every TLS parameter from a URL and keeps the rest', () => {
    const { url, dropped } = stripTlsParams('postgres://u:p@db.example:5433/app?sslmode=disable&sslrootcert=/etc/passwd&ssl=0&sslkey=/k&application_name=x&sslcert=/c');
    expect(new URL(url).searchParams.toString()).to.equal('application_name=x');
    expect(url.startsWith('postgres://u:p@db.example:5433/app')).to.equal(true);
    expect(dropped).to.have.members(['sslmode', 'sslrootcert', 'ssl', 'sslkey', 'sslcert']);
    expect(stripTlsParams('postgres://u@h/db')).to.deep.equal({ url: 'postgres://u@h/db', dropped: [] });
  });

  it('builds libpq-like options for each mode', async () => {
    expect(await new PgTls({ mode: 'disable' }).ssl('db', 5432)).to.equal(false);
    expect(await new PgTls({ mode: 'require' }).ssl('db', 5432)).to.deep.equal({ rejectUnauthorized: false });
    // require with a CA verifies the CA, as libpq does with a root certificate
    const requireCa = (await new PgTls({ mode: 'require', ca: caPem }).ssl('db', 5432)) as { rejectUnauthorized: boolean; ca: string; checkServerIdentity: (h: string, c: PeerCertificate) => Error | undefined };
    expect(requireCa.rejectUnauthorized).to.equal(true);
    expect(requireCa.ca).to.equal(caPem);
    expect(requireCa.checkServerIdentity('db', certFor('other'))).to.equal(undefined);
    const verifyCa = (await new PgTls({ mode: 'verify-ca', ca: caPem }).ssl('db', 5432)) as typeof requireCa;
    expect(verifyCa.checkServerIdentity('db', certFor('other'))).to.equal(undefined);
    const full = (await new PgTls({ mode: 'verify-full', ca: caPem }).ssl('db', 5432)) as Partial<typeof requireCa>;
    // Node's own identity check against the URL's host
    expect(full).to.deep.equal({ rejectUnauthorized: true, ca: caPem });
    const named = (await new PgTls({ mode: 'verify-full', ca: caPem, servername: 'shard.test' }).ssl('10.0.0.1', 5432)) as typeof requireCa;
    expect(named.checkServerIdentity('10.0.0.1', certFor('shard.test'))).to.equal(undefined);
    expect(named.checkServerIdentity('10.0.0.1', certFor('other.test'))).to.be.instanceOf(Error);
  });

  it('refuses verify-ca without a CA', () => {
    expect(() => new PgTls({ mode: 'verify-ca' })).to.throw(/verify-ca needs the CA/);
    expect(() => loadConfig({ NODE_ENV: 'test' }, { overrides: { db: { tls: { mode: 'verify-ca' } } } })).to.throw(/db\.tls\.ca/);
  });

  it('gives pg.Client and Sequelize the stripped URL and the policy\'s ssl', async () => {
    const tls = new PgTls({ mode: 'verify-full', ca: caPem, servername: 'shard.test' });
    const client = await tls.clientOptions('postgres://u@db:6000/app?sslmode=disable');
    expect(client.connectionString).to.equal('postgres://u@db:6000/app');
    expect(client.ssl).to.include({ rejectUnauthorized: true, ca: caPem });
    const seq = tls.sequelize('postgres://u@db:6000/app?sslmode=require&application_name=z');
    expect(seq.url).to.equal('postgres://u@db:6000/app?application_name=z');
    const config: { host: string; port: number; dialectOptions?: Record<string, unknown> } = { host: 'db', port: 6000, dialectOptions: { application_name: 'z' } };
    await seq.hooks.beforeConnect(config);
    expect(config.dialectOptions).to.have.property('application_name', 'z');
    expect(config.dialectOptions?.ssl).to.include({ rejectUnauthorized: true });
  });

  it('reads a CA file once and refuses what is not a PEM certificate, naming the setting', () => {
    expect(caPem).to.match(/^-----BEGIN CERTIFICATE-----/);
    expect(() => readPemCertificates(path.join(dir, 'missing.pem'), 'db.tls.ca')).to.throw(/db\.tls\.ca: cannot read .*ENOENT/);
    writeFileSync(path.join(dir, 'junk.pem'), 'not a certificate');
    expect(() => PgTls.fromConfig({ mode: 'verify-full', ca: path.join(dir, 'junk.pem') })).to.throw(/db\.tls\.ca.*no PEM certificate/);
    // a directory: every *.crt / *.pem in it (one CA per cluster, as Kubernetes mounts them)
    const caDir = path.join(dir, 'cas');
    mkdirSync(caDir);
    writeFileSync(path.join(caDir, 'a.crt'), caPem);
    writeFileSync(path.join(caDir, 'b.pem'), readFileSync(path.join(dir, 'other-ca.crt'), 'utf8'));
    writeFileSync(path.join(caDir, 'ignored.key'), 'not read');
    expect(readPemCertificates(caDir, 'db.tls.ca').match(/BEGIN CERTIFICATE/g)).to.have.length(2);
    expect(() => parsePemCertificates('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'x')).to.throw(/not valid X\.509/);
  });

  it('words a TLS failure in its own terms, and leaves other failures alone', () => {
    expect(tlsFailureReason(Object.assign(new Error('Hostname/IP does not match certificate\'s altnames: Host: evil. is not in the cert\'s altnames: DNS:shard.test'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }))).to.equal('certificate does not name the server');
    expect(tlsFailureReason(new Error('The server does not support SSL connections'))).to.equal('the server does not offer TLS');
    expect(tlsFailureReason({ name: 'SequelizeConnectionError', original: { code: 'SELF_SIGNED_CERT_IN_CHAIN' } })).to.contain('not trusted');
    expect(tlsFailureReason(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).to.equal(undefined);
  });

  it('Redis: rediss:// gets verified TLS with the CA and name, redis:// none', () => {
    const tls = new RedisTls({ ca: caPem, servername: 'cache.test' });
    expect(tls.options('rediss://r:6380')).to.deep.equal({ rejectUnauthorized: true, ca: caPem, servername: 'cache.test' });
    expect(tls.options('redis://r:6379')).to.equal(undefined);
  });
});
