import { expect } from 'chai';
import { checkTotp, currentTotp } from '../../../server/auth/totp';

// RFC 6238 appendix B: SHA-1 seed "12345678901234567890" (base32 below); the 6-digit code is the
// last six digits of the 8-digit values the RFC lists.
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const RFC_VECTORS: [number, string][] = [[59, '287082'], [1111111109, '081804'], [1111111111, '050471'], [1234567890, '005924'], [2000000000, '279037']];

describe('auth/totp', () => {
  for (const [t, code] of RFC_VECTORS) {
    it(`gives the RFC 6238 code at T=${t}`, async () => {
      expect(await currentTotp(RFC_SECRET, t * 1000)).to.equal(code);
    });
  }

  it('accepts the current code and one step either side, nothing further', async () => {
    const now = 1_800_000_000_000;
    expect(await checkTotp(RFC_SECRET, await currentTotp(RFC_SECRET, now), null, now)).to.be.a('number');
    expect(await checkTotp(RFC_SECRET, await currentTotp(RFC_SECRET, now - 30_000), null, now)).to.be.a('number');
    expect(await checkTotp(RFC_SECRET, await currentTotp(RFC_SECRET, now + 30_000), null, now)).to.be.a('number');
    expect(await checkTotp(RFC_SECRET, await currentTotp(RFC_SECRET, now - 90_000), null, now)).to.equal(null);
    expect(await checkTotp(RFC_SECRET, await currentTotp(RFC_SECRET, now + 90_000), null, now)).to.equal(null);
  });

  it('refuses a code whose step was already used (replay) and malformed input', async () => {
    const now = 1_800_000_000_000;
    const code = await currentTotp(RFC_SECRET, now);
    const step = await checkTotp(RFC_SECRET, code, null, now);
    expect(step).to.equal(Math.floor(now / 30_000));
    expect(await checkTotp(RFC_SECRET, code, step, now)).to.equal(null);
    expect(await checkTotp(RFC_SECRET, '12345', null, now)).to.equal(null);
    expect(await checkTotp(RFC_SECRET, 'abcdef', null, now)).to.equal(null);
    expect(await checkTotp(RFC_SECRET, ` ${code.slice(0, 3)} ${code.slice(3)} `, null, now)).to.equal(step);
  });

  it('takes the code typed in full-width digits or grouped with a hyphen, as a Japanese phone may type it', async () => {
    const now = 1_700_000_000_000;
    const code = await currentTotp(RFC_SECRET, now);
    const step = Math.floor(now / 30_000);
    const fullWidth = code.replace(/[0-9]/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0));
    expect(await checkTotp(RFC_SECRET, fullWidth, null, now)).to.equal(step);
    expect(await checkTotp(RFC_SECRET, `${code.slice(0, 3)}-${code.slice(3)}`, null, now)).to.equal(step);
    expect(await checkTotp(RFC_SECRET, '１２３', null, now)).to.equal(null);
  });
});
