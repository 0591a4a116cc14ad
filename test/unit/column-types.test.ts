import { expect } from 'chai';
import { createCipheriv, randomBytes } from 'node:crypto';
import { Sequelize } from 'sequelize';
import { Keyring } from '../../src/models/types/keyring.js';
import { defineShardModels, PasswordHasher } from '../../src/models/index.js';
import { FieldIntegrityError, type FieldPlace } from '../../src/errors/errors.js';
import { jsonbProblem } from '../../src/models/types/exact-jsonb.js';

const key = () => randomBytes(32).toString('base64');

const place = (over: Partial<FieldPlace> = {}): FieldPlace => ({ tenantId: 't1', table: 'users', column: 'tax_id', rowId: '0190a4b8-0000-7000-8000-000000000001', ...over });

/** An `enc1` value as the gateway wrote them before enc2: AES-256-GCM, no associated data. */
function legacySeal(keyId: string, base64Key: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(base64Key, 'base64'), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['enc1', keyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join(':');
}

const integrityError = (fn: () => unknown): FieldIntegrityError => {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(FieldIntegrityError);
    return err as FieldIntegrityError;
  }
  throw new Error('expected a FieldIntegrityError');
};

describe('Keyring (AES-256-GCM with key ids, sealed to a place)', () => {
  it('round-trips as enc2 and never repeats a ciphertext', () => {
    const ring = new Keyring({ k1: key() }, 'k1');
    const a = ring.seal('DE123456789', place());
    const b = ring.seal('DE123456789', place());
    expect(a).to.match(/^enc2:k1:/);
    expect(a).to.not.equal(b);
    expect(a).to.not.include('DE123456789');
    expect(ring.open(a, place())).to.equal('DE123456789');
    expect(Keyring.keyIdOf(a)).to.equal('k1');
    expect(Keyring.formatOf(a)).to.equal('enc2');
  });

  it('opens a value only at the place it was sealed to', () => {
    const ring = new Keyring({ k1: key() }, 'k1');
    const sealed = ring.seal('secret', place());
    for (const elsewhere of [{ tenantId: 't2' }, { rowId: '0190a4b8-0000-7000-8000-000000000002' }, { column: 'email' }, { table: 'products' }]) {
      const err = integrityError(() => ring.open(sealed, place(elsewhere)));
      expect(err.code).to.equal('DATA_INTEGRITY');
      expect(err.status).to.equal(500);
      expect(err.place).to.deep.equal(place(elsewhere));
      expect(err.message).not.to.include('secret');
    }
  });

  it('binds the place unambiguously (no two places serialize alike)', () => {
    const ring = new Keyring({ k1: key() }, 'k1');
    const sealed = ring.seal('secret', place({ tenantId: 'a:b', table: 'c' }));
    integrityError(() => ring.open(sealed, place({ tenantId: 'a', table: 'b:c' })));
    const nul = ring.seal('secret', place({ tenantId: 'a', table: 'b' }));
    integrityError(() => ring.open(nul, place({ tenantId: 'a","b', table: '' })));
  });

  it('still reads enc1 values (no associated data) and names the format', () => {
    const k1 = key();
    const old = legacySeal('k1', k1, 'old secret');
    const ring = new Keyring({ k1 }, 'k1');
    expect(Keyring.formatOf(old)).to.equal('enc1');
    expect(ring.open(old, place())).to.equal('old secret');
    expect(Keyring.formatOf('plain text')).to.equal(undefined);
  });

  it('keeps old values readable after a rotation', () => {
    const k1 = key();
    const old = new Keyring({ k1 }, 'k1').seal('secret', place());
    const rotated = new Keyring({ k1, k2: key() }, 'k2');
    expect(rotated.open(old, place())).to.equal('secret');
    expect(Keyring.keyIdOf(rotated.seal('x', place()))).to.equal('k2');
    // a key rotated out is the configuration's fault, not the data's
    expect(() => new Keyring({ k2: key() }, 'k2').open(old, place())).to.throw(/k1/).and.not.to.be.instanceOf(FieldIntegrityError);
  });

  it('detects tampering and malformed values as integrity failures', () => {
    const ring = new Keyring({ k1: key() }, 'k1');
    const parts = ring.seal('secret', place()).split(':');
    integrityError(() => ring.open([...parts.slice(0, 4), Buffer.from('tampered').toString('base64url')].join(':'), place()));
    // an enc2 value relabelled enc1 would skip the associated data: it fails the tag instead
    integrityError(() => ring.open(['enc1', ...parts.slice(1)].join(':'), place()));
    integrityError(() => ring.open('not encrypted', place()));
    integrityError(() => ring.open(`${parts.join(':')}:extra`, place()));
  });

  it('refuses a truncated authentication tag (GCM would accept one as short as 4 bytes)', () => {
    const ring = new Keyring({ k1: key() }, 'k1');
    const parts = ring.seal('secret', place()).split(':');
    const short = Buffer.from(parts[3]!, 'base64url').subarray(0, 4).toString('base64url');
    expect(integrityError(() => ring.open([...parts.slice(0, 3), short, parts[4]].join(':'), place())).cause).to.match(/16 bytes/);
  });

  it('refuses bad keys and never prints them', () => {
    expect(() => new Keyring({ k1: 'short' }, 'k1')).to.throw(/32 bytes/);
    expect(() => new Keyring({ k1: key() }, 'k2')).to.throw(/k2/);
    const secret = key();
    const ring = new Keyring({ k1: secret }, 'k1');
    expect(JSON.stringify({ ring })).to.not.include(secret);
    expect(Object.keys(ring)).to.not.include('keys');
  });
});

describe('EncryptedColumns (sealed in hooks, opened on read; no database needed to build and validate)', () => {
  const k1 = key();
  const alarms: FieldIntegrityError[] = [];
  const sequelize = new Sequelize('postgres://nobody@127.0.0.1:1/none', { logging: false });
  const models = defineShardModels(sequelize, { hasher: new PasswordHasher({ cost: 1024 }), keyring: new Keyring({ k1 }, 'k1'), integrityAlarm: (err) => alarms.push(err) });
  after(() => sequelize.close());
  const build = (tenantId: string, taxId: string | null) => models.User.build({ tenantId, username: 'u', email: 'u@example.com', password: 'pw', taxId, createdAt: new Date(), updatedAt: new Date() });

  it('keeps a set plaintext unsealed until the row is validated, then holds enc2 only', async () => {
    const user = build('t1', 'DE42');
    expect(JSON.stringify(user.getDataValue('taxId'))).to.equal('"[unsealed]"');
    expect(user.taxId).to.equal('DE42');
    await user.validate();
    const stored = user.getDataValue('taxId') as unknown as string;
    expect(stored).to.match(/^enc2:k1:/);
    expect(user.taxId).to.equal('DE42');
    expect(models.User.getAttributes().taxId!.field).to.equal('tax_id');
  });

  it("fails to read a value copied from another row or tenant, and raises the alarm with the place, never the value", async () => {
    const source = build('t1', 'DE42');
    await source.validate();
    const ciphertext = source.getDataValue('taxId');
    for (const target of [build('t1', null), build('t2', null)]) {
      target.setDataValue('taxId', ciphertext);
      alarms.length = 0;
      const err = integrityError(() => target.taxId);
      expect(err.place).to.deep.equal({ tenantId: target.tenantId, table: 'users', column: 'tax_id', rowId: target.id });
      expect(alarms).to.deep.equal([err]);
      expect(JSON.stringify(err.place) + err.message).not.to.include('DE42');
    }
  });

  it('reads an enc1 value and reseals it as enc2 in beforeSave', async () => {
    const user = build('t1', null);
    const old = legacySeal('k1', k1, 'DE-old');
    user.setDataValue('taxId', old);
    expect(user.taxId).to.equal('DE-old');
    user.isNewRecord = false;
    // the hooks save() runs for an update (a save itself needs a database)
    await (models.User as unknown as { runHooks(name: string, ...args: unknown[]): Promise<void> }).runHooks('beforeUpdate', user, {});
    const stored = user.getDataValue('taxId') as unknown as string;
    expect(stored).to.match(/^enc2:/);
    expect(user.changed('taxId')).to.equal(true);
    expect(user.taxId).to.equal('DE-old');
  });

  it('refuses to seal where the row has no tenant (a static update would)', async () => {
    const user = models.User.build({ username: 'u', email: 'u@example.com', password: 'pw', taxId: 'x' } as never);
    const err = await user.validate().then(() => undefined, (e: unknown) => e);
    expect(String(err)).to.match(/tenantId and id/);
  });
});

describe('exact jsonb', () => {
  it('accepts plain JSON', () => {
    expect(jsonbProblem({ a: [1, 'x', null, { b: true }], c: 0.1, d: {} })).to.equal(undefined);
  });

  it('refuses what would not round-trip, naming where', () => {
    expect(jsonbProblem({ a: new Date() })).to.match(/\$\.a.*Date/);
    expect(jsonbProblem({ a: undefined })).to.match(/\$\.a/);
    expect(jsonbProblem({ a: [1, Number.NaN] })).to.match(/\$\.a\[1\]/);
    expect(jsonbProblem({ big: 2 ** 60 })).to.match(/2\^53/);
    expect(jsonbProblem({ s: 'a\u0000b' })).to.match(/NUL/);
  });
});
