import { expect } from 'chai';
import { hashPassword, passwordProblem, verifyPassword, PASSWORD_MAX } from '../../../server/auth/passwords';
import { hashRecoveryCode, newRecoveryCodes, normaliseRecoveryCode } from '../../../server/auth/recovery-codes';

describe('auth/passwords: argon2id', () => {
  it('hashes with argon2id at OWASP parameters (19 MiB, t=2, p=1) and verifies', async () => {
    const hash = await hashPassword('とても長い合言葉 correct horse');
    expect(hash).to.match(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await verifyPassword(hash, 'とても長い合言葉 correct horse')).to.equal(true);
    expect(await verifyPassword(hash, 'とても長い合言葉 correct hors')).to.equal(false);
  });

  it('answers false for a missing hash (unknown account) after doing the same work', async () => {
    expect(await verifyPassword(null, 'whatever password')).to.equal(false);
  });

  it('refuses passwords that are too short or too long, and never hashes the too-long ones', async () => {
    expect(passwordProblem('short')).to.equal('password.tooShort');
    expect(passwordProblem('x'.repeat(PASSWORD_MAX + 1))).to.equal('password.tooLong');
    expect(passwordProblem('twelve chars')).to.equal(null);
    const hash = await hashPassword('a'.repeat(PASSWORD_MAX));
    expect(await verifyPassword(hash, 'a'.repeat(PASSWORD_MAX + 1))).to.equal(false);
  });
});

describe('auth/recovery-codes', () => {
  it('makes ten distinct codes in the form abcde-fghjk, hashed the same however typed', () => {
    const codes = newRecoveryCodes();
    expect(new Set(codes).size).to.equal(10);
    for (const c of codes) expect(c).to.match(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    const c = codes[0]!;
    expect(normaliseRecoveryCode(` ${c.toUpperCase().replace('-', '')} `)).to.equal(c);
    expect(hashRecoveryCode(c.toUpperCase())).to.equal(hashRecoveryCode(c));
    expect(hashRecoveryCode(codes[1]!)).to.not.equal(hashRecoveryCode(c));
  });
});
