import { expect } from 'chai';
import { ShardSecrets, ShardSecretError } from '../../src/catalog/shard-secrets.js';

const key = (n: number) => Buffer.alloc(32, n).toString('base64');
const row = (primary: string, replicas: string[] = []) => ({ id: 'shard-1', primary, replicas, admin: { primary: 'postgres://owner:own%40er@h:1/db', replicas: [] } });

describe('ShardSecrets', () => {
  const env = { PW: 'p@ss:word' };
  const secrets = new ShardSecrets({ k1: key(1) }, 'k1', env);

  it('seals literal passwords (URL-safe) and keeps ${env:} references as written', () => {
    const stored = secrets.conceal(row('postgres://app:secret@h:1/db', ['postgres://app:${env:PW}@h:2/db']));
    expect(stored.primary).to.match(/^postgres:\/\/app:sg1\.k1\.[A-Za-z0-9_-]+@h:1\/db$/);
    expect(stored.replicas[0]).to.equal('postgres://app:${env:PW}@h:2/db');
    expect(JSON.stringify(stored)).not.to.match(/secret|own%40er|own@er/);

    const open = secrets.reveal(stored);
    expect(open.primary).to.equal('postgres://app:secret@h:1/db');
    expect(decodeURIComponent(new URL(open.replicas[0] as string).password)).to.equal('p@ss:word');
    expect(decodeURIComponent(new URL(open.admin!.primary).password)).to.equal('own@er');
  });

  it('sealing twice opens to the same password (a row stored as read)', () => {
    const once = secrets.conceal(row('postgres://app:secret@h:1/db'));
    expect(secrets.reveal(secrets.conceal(once)).primary).to.equal('postgres://app:secret@h:1/db');
  });

  it('a sealed password does not open for another shard', () => {
    const stored = secrets.conceal(row('postgres://app:secret@h:1/db'));
    expect(() => secrets.reveal({ ...stored, id: 'shard-2' })).to.throw(ShardSecretError, /shard-2/);
  });

  it('names a reference whose variable is not set', () => {
    expect(() => secrets.reveal(row('postgres://app:${env:NOPE}@h:1/db'))).to.throw(ShardSecretError, /NOPE/);
  });

  it('asks for resealing when a password is clear or sealed with an older key', () => {
    const old = secrets.conceal(row('postgres://app:secret@h:1/db'));
    const rotated = new ShardSecrets({ k1: key(1), k2: key(2) }, 'k2', env);
    expect(rotated.needsResealing(row('postgres://app:secret@h:1/db'))).to.equal(true);
    expect(rotated.needsResealing(old)).to.equal(true);
    const resealed = rotated.conceal(old);
    expect(resealed.primary).to.match(/:sg1\.k2\./);
    expect(rotated.needsResealing(resealed)).to.equal(false);
    expect(rotated.reveal(resealed).primary).to.equal('postgres://app:secret@h:1/db');
    // a key taken out of the ring: what it sealed no longer opens
    expect(() => new ShardSecrets({ k2: key(2) }, 'k2', env).reveal(old)).to.throw(ShardSecretError);
  });
});
