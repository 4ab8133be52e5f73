import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { KeyRing, newDataKey, unwrapDataKey } from '../../../server/crypto/key-ring';
import { DecryptionFailed } from '../../../server/crypto/aead';

describe('crypto/key-ring: master key → client keys → data keys', () => {
  const ring = new KeyRing(randomBytes(32));

  it('detects a wrong master key through the key-check value', () => {
    const kcv = ring.makeKeyCheckValue();
    expect(ring.matchesKeyCheckValue(kcv)).to.equal(true);
    expect(new KeyRing(randomBytes(32)).matchesKeyCheckValue(kcv)).to.equal(false);
    expect(ring.matchesKeyCheckValue('not base64 of anything')).to.equal(false);
  });

  it('wraps a client key bound to client, purpose and version', () => {
    const { key, wrapped } = ring.newClientKey('client-a', 'numbers', 1);
    expect(ring.unwrapClientKey('client-a', 'numbers', 1, wrapped).equals(key)).to.equal(true);
    expect(() => ring.unwrapClientKey('client-b', 'numbers', 1, wrapped)).to.throw(DecryptionFailed);
    expect(() => ring.unwrapClientKey('client-a', 'files', 1, wrapped)).to.throw(DecryptionFailed);
    expect(() => ring.unwrapClientKey('client-a', 'numbers', 2, wrapped)).to.throw(DecryptionFailed);
    expect(() => new KeyRing(randomBytes(32)).unwrapClientKey('client-a', 'numbers', 1, wrapped)).to.throw(DecryptionFailed);
  });

  it('wraps a data key bound to its owner object; moved to another file it does not open', () => {
    const clientKey = randomBytes(32);
    const owner = { clientId: 'client-a', keyVersion: 1, kind: 'file', id: 'file-1' };
    const { key, wrapped } = newDataKey(clientKey, owner);
    expect(unwrapDataKey(clientKey, owner, wrapped).equals(key)).to.equal(true);
    expect(() => unwrapDataKey(clientKey, { ...owner, id: 'file-2' }, wrapped)).to.throw(DecryptionFailed);
    expect(() => unwrapDataKey(clientKey, { ...owner, clientId: 'client-b' }, wrapped)).to.throw(DecryptionFailed);
    expect(() => unwrapDataKey(clientKey, { ...owner, keyVersion: 2 }, wrapped)).to.throw(DecryptionFailed);
    expect(() => unwrapDataKey(randomBytes(32), owner, wrapped)).to.throw(DecryptionFailed);
  });

  it('derives separate, stable subkeys per label', () => {
    expect(ring.derive('session-cookie').equals(ring.derive('session-cookie'))).to.equal(true);
    expect(ring.derive('session-cookie').equals(ring.derive('secret/totp'))).to.equal(false);
    expect(ring.derive('a')).to.have.length(32);
  });

  it('seals a secret for one owner only', () => {
    const sealed = ring.sealSecret('totp', 'user-1', Buffer.from('JBSWY3DPEHPK3PXP'));
    expect(ring.openSecret('totp', 'user-1', sealed).toString()).to.equal('JBSWY3DPEHPK3PXP');
    expect(() => ring.openSecret('totp', 'user-2', sealed)).to.throw(DecryptionFailed);
    expect(() => ring.openSecret('other', 'user-1', sealed)).to.throw(DecryptionFailed);
  });

  it('refuses a master key that is not 256 bits', () => {
    expect(() => new KeyRing(randomBytes(16))).to.throw(/32 bytes/);
  });
});
