import { expect } from 'chai';
import { aad, gcmDecrypt, gcmEncrypt, open, seal, DecryptionFailed } from '../../../server/crypto/aead';

const hex = (s: string) => Buffer.from(s, 'hex');

// Test cases 13, 14 and 16 (AES-256) of McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", the vectors NIST's GCM validation builds on.
const VECTORS = [
  { name: 'GCM spec test case 13 (empty plaintext)', key: '00'.repeat(32), iv: '00'.repeat(12), pt: '', aad: '', ct: '', tag: '530f8afbc74536b9a963b4f1c4cb738b' },
  { name: 'GCM spec test case 14 (one zero block)', key: '00'.repeat(32), iv: '00'.repeat(12), pt: '00'.repeat(16), aad: '', ct: 'cea7403d4d606b6e074ec5d3baf39d18', tag: 'd0d1c8a799996bf0265b98b5d48ab919' },
  {
    name: 'GCM spec test case 16 (with associated data)',
    key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
    iv: 'cafebabefacedbaddecaf888',
    pt: 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
    ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
    tag: '76fc6ece0f4e1768cddf8853bb2d551b',
  },
];

describe('crypto/aead: AES-256-GCM', () => {
  for (const v of VECTORS) {
    it(`matches ${v.name}`, () => {
      const { ciphertext, tag } = gcmEncrypt(hex(v.key), hex(v.iv), hex(v.pt), hex(v.aad));
      expect(ciphertext.toString('hex')).to.equal(v.ct);
      expect(tag.toString('hex')).to.equal(v.tag);
      expect(gcmDecrypt(hex(v.key), hex(v.iv), hex(v.ct), hex(v.tag), hex(v.aad)).toString('hex')).to.equal(v.pt);
    });
  }

  it('refuses a published vector with one bit of its tag flipped', () => {
    const v = VECTORS[2]!;
    const tag = hex(v.tag);
    tag[0]! ^= 1;
    expect(() => gcmDecrypt(hex(v.key), hex(v.iv), hex(v.ct), tag, hex(v.aad))).to.throw(DecryptionFailed);
  });

  describe('seal / open', () => {
    const key = Buffer.alloc(32, 7);
    const owner = aad('client-key', 'client-a', 'numbers', 1);

    it('round-trips and uses a new nonce each time', () => {
      const a = seal(key, Buffer.from('秘密'), owner);
      const b = seal(key, Buffer.from('秘密'), owner);
      expect(a.equals(b)).to.equal(false);
      expect(open(key, a, owner).toString()).to.equal('秘密');
    });

    it('does not open under other associated data (a value moved to another owner)', () => {
      const sealed = seal(key, Buffer.from('x'), owner);
      expect(() => open(key, sealed, aad('client-key', 'client-b', 'numbers', 1))).to.throw(DecryptionFailed);
    });

    it('does not open with another key, when cut short, or with any byte changed', () => {
      const sealed = seal(key, Buffer.from('some secret value'), owner);
      expect(() => open(Buffer.alloc(32, 8), sealed, owner)).to.throw(DecryptionFailed);
      expect(() => open(key, sealed.subarray(0, sealed.length - 1), owner)).to.throw(DecryptionFailed);
      expect(() => open(key, sealed.subarray(0, 10), owner)).to.throw(DecryptionFailed);
      for (let i = 0; i < sealed.length; i++) {
        const bad = Buffer.from(sealed);
        bad[i]! ^= 0x01;
        expect(() => open(key, bad, owner), `byte ${i}`).to.throw(DecryptionFailed);
      }
    });

    it('refuses keys that are not 256 bits', () => {
      expect(() => seal(Buffer.alloc(16), Buffer.from('x'), owner)).to.throw(/32 bytes/);
    });
  });
});
