import { expect } from 'chai';
import { createHmac, randomBytes } from 'node:crypto';
import { blindIndex, openNumber, sealNumber, type NumberOwner } from '../../../server/crypto/number-cipher';
import { DecryptionFailed } from '../../../server/crypto/aead';

describe('crypto/number-cipher: My Numbers at rest', () => {
  const key = randomBytes(32);
  const owner: NumberOwner = { clientId: 'client-a', personKind: 'employee', personId: 'emp-1', keyVersion: 1 };

  it('seals and opens; the sealed form holds no digits of the number', () => {
    const sealed = sealNumber(key, owner, '123456789018');
    expect(openNumber(key, owner, sealed)).to.equal('123456789018');
    expect(Buffer.from(sealed, 'base64').toString('latin1')).to.not.contain('123456789018');
    expect(sealNumber(key, owner, '123456789018')).to.not.equal(sealed);
  });

  it('a ciphertext moved to another person, client, kind or key version does not open', () => {
    const sealed = sealNumber(key, owner, '123456789018');
    for (const other of [{ personId: 'emp-2' }, { clientId: 'client-b' }, { personKind: 'dependant' as const }, { keyVersion: 2 }]) {
      expect(() => openNumber(key, { ...owner, ...other }, sealed), JSON.stringify(other)).to.throw(DecryptionFailed);
    }
    expect(() => openNumber(randomBytes(32), owner, sealed)).to.throw(DecryptionFailed);
  });

  it('the blind index is stable within a client, differs between clients, and is not a plain hash', () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    expect(blindIndex(a, '123456789018')).to.equal(blindIndex(a, '123456789018'));
    expect(blindIndex(a, '123456789018')).to.not.equal(blindIndex(b, '123456789018'));
    expect(blindIndex(a, '123456789018')).to.not.equal(blindIndex(a, '123456789026'));
    // RFC 4231 test case 2, so the HMAC itself is the standard one.
    expect(createHmac('sha256', 'Jefe').update('what do ya want for nothing?').digest('hex'))
      .to.equal('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});
