import { expect } from 'chai';
import { hashPassword, passwordProblem, personalWords, verifyPassword, PASSWORD_MAX } from '../../../server/auth/passwords';
import { romajiSpellings } from '../../../server/auth/romaji';
import { translate } from '../../../server/i18n';
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
    expect(await passwordProblem('short')).to.equal('password.tooShort');
    expect(await passwordProblem('x'.repeat(PASSWORD_MAX + 1))).to.equal('password.tooLong');
    expect(await passwordProblem('twelve chars')).to.equal(null);
    const hash = await hashPassword('a'.repeat(PASSWORD_MAX));
    expect(await verifyPassword(hash, 'a'.repeat(PASSWORD_MAX + 1))).to.equal(false);
  });

  it('refuses long passwords a cracker would guess soon: common words, keyboard runs, repeats, dates, Japanese names', async () => {
    for (const weak of ['password1234', 'qwertyuiop12', 'Aa1!Aa1!Aa1!', 'sakura12345678', '111111111111', 'P@ssw0rd2026', 'akatsuki2026']) {
      expect(await passwordProblem(weak), weak).to.equal('password.guessable');
    }
    for (const strong of ['correct horse battery staple', 'とても長い合言葉 correct horse', 'Kx9#mP2$vL5q', 'blue kettle orbit 27']) {
      expect(await passwordProblem(strong), strong).to.equal(null);
    }
  });

  it("refuses a password built from the person's own name or address", async () => {
    const own = personalWords('zorvex.quintaro@example.jp', 'Quintaro Zorvex');
    expect(own).to.include.members(['zorvex', 'quintaro', 'example']);
    expect(await passwordProblem('zorvexquintaro', [])).to.equal(null);
    expect(await passwordProblem('zorvexquintaro', own)).to.equal('password.personal');
  });

  it("refuses taro.yamada-style passwords for taro.yamada@example.jp however the pieces are joined, with a message that says why; a good passphrase passes", async () => {
    const own = personalWords('taro.yamada@example.jp', '山田 太郎');
    expect(own).to.include.members(['taro.yamada', 'taroyamada', 'yamadataro', 'taro', 'yamada']);
    // zxcvbn alone passes several of these (three pieces count as 10^8 guesses whatever they are).
    for (const weak of ['taro.yamada2024', 'taroyamada1985', 'Yamada.Taro.1234', 'TaroYamada!2026', 'taro_yamada_123', 'xtaroyamada1985', 'yamada-taro-2024', 'taro.yamada.example']) {
      expect(await passwordProblem(weak, own), weak).to.equal('password.personal');
    }
    for (const strong of ['correct horse battery staple', 'blue kettle orbit 27', 'taro loves blue kettle orbit', 'oolong sakura tarot 88']) {
      expect(await passwordProblem(strong, own), strong).to.equal(null);
    }
    expect(translate('ja', 'password.personal')).to.contain('ご自身の氏名・メールアドレス・会社名');
  });

  it('takes kana readings as the romaji people type (タロウ → tarou, taro) and a company\'s name without its kind', async () => {
    expect(romajiSpellings('タロウ')).to.deep.equal(['tarou', 'taro']);
    expect(romajiSpellings('キョウコ')).to.deep.equal(['kyouko', 'kyoko']);
    expect(romajiSpellings('シュンスケ')).to.deep.equal(['shunsuke', 'syunsuke']);
    expect(romajiSpellings('ハットリ')).to.deep.equal(['hattori']);
    expect(romajiSpellings('マッチャ')).to.deep.equal(['matcha', 'mattya']);
    expect(romajiSpellings('ルーシー')).to.deep.equal(['ruushii', 'rushii', 'ruusii']);
    const own = personalWords('t.y@example.jp', '山田 太郎', 'ヤマダ タロウ', '株式会社むすび', 'ムスビ');
    expect(own).to.include.members(['yamadataro', 'tarouyamada', 'musubi', 'むすび']).and.not.include('株式会社');
    for (const weak of ['yamadataro2024', 'tarou.yamada!!', 'musubi-yamada-01', 'Musubi2024Taro']) {
      expect(await passwordProblem(weak, own), weak).to.equal('password.personal');
    }
  });

  it('judges a very long password by its start, so no input costs the server seconds', async () => {
    expect(await passwordProblem('password'.repeat(32))).to.equal('password.guessable');
    expect(await passwordProblem(`Kx9#mP2$vL5q blue kettle orbit ${'a1'.repeat(100)}`)).to.equal(null);
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
