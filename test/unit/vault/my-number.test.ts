import { expect } from 'chai';
import { checkDigit, issueDateProblem, maskNumber, maskNumberRuns, normaliseNumber, parseMyNumber } from '../../../server/vault/my-number';

describe('vault/my-number: the 12-digit number and its check digit', () => {
  it('accepts 123456789018 and refuses 123456789019 (the example the domain gives)', () => {
    expect(parseMyNumber('123456789018')).to.deep.equal({ ok: true, number: '123456789018' });
    expect(parseMyNumber('123456789019')).to.deep.equal({ ok: false, problem: 'vault.number.checkDigit' });
  });

  it('computes the check digit by the ordinance, including the r ≤ 1 → 0 case', () => {
    expect(checkDigit('12345678901')).to.equal(8);
    // Every check digit 0–9 is reached over a run of prefixes, and exactly one final digit is valid.
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const prefix = String(10_000_000_000 + i * 7919).slice(0, 11);
      const d = checkDigit(prefix);
      seen.add(d);
      const valid = [...'0123456789'].filter((c) => parseMyNumber(prefix + c).ok);
      expect(valid).to.deep.equal([String(d)]);
    }
    expect([...seen].sort()).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('converts full-width digits and drops the spaces and hyphens people type', () => {
    expect(normaliseNumber('１２３４５６７８９０１８')).to.equal('123456789018');
    expect(parseMyNumber('１２３４ ５６７８ ９０１８').ok).to.equal(true);
    expect(parseMyNumber('1234-5678-9018').ok).to.equal(true);
    expect(parseMyNumber('1234－5678ー9018').ok).to.equal(true);
  });

  it('says what is wrong: empty, not digits, wrong length', () => {
    expect(parseMyNumber('')).to.deep.equal({ ok: false, problem: 'vault.number.empty' });
    expect(parseMyNumber('12345678901a')).to.deep.equal({ ok: false, problem: 'vault.number.notDigits' });
    expect(parseMyNumber('12345678901')).to.deep.equal({ ok: false, problem: 'vault.number.length' });
    expect(parseMyNumber('1234567890180')).to.deep.equal({ ok: false, problem: 'vault.number.length' });
    expect(parseMyNumber('１２３４５６７８９０１')).to.deep.equal({ ok: false, problem: 'vault.number.length' });
  });

  it('masks twelve digits in a row in free text (file names, reasons), however grouped, and leaves other digits alone', () => {
    expect(maskNumberRuns('マイナンバー123456789018.png')).to.equal('マイナンバー************.png');
    expect(maskNumberRuns('カード 1234 5678 9018 表.jpg')).to.equal('カード ************ 表.jpg');
    expect(maskNumberRuns('１２３４－５６７８－９０１８')).to.equal('************');
    expect(maskNumberRuns('番号は123456789018と987654321098')).to.equal('番号は************と************');
    // A corporate number (13 digits), dates, a phone number, eleven digits, other groupings, codes and hashes: none a My Number.
    for (const text of [
      '法人番号1234567890123.pdf', '2026-12-07 給与.pdf', '03-1234-5678', '12345678901', 'v1.2.3', '1-2345-6789-0123', '2026-01-01 2026-12-31',
      'E000123 2026-12-07', 'ab123456789012cd', '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', '1234 5678-9018',
    ]) expect(maskNumberRuns(text), text).to.equal(text);
  });

  it('masks all but the last two digits', () => {
    expect(maskNumber('18')).to.equal('**********18');
  });

  it('an issue date lies between the first notification cards (2015-10-05) and today in Japan', () => {
    expect(issueDateProblem('2015-10-04', '2026-12-07')).to.equal('vault.issueDate.tooEarly');
    expect(issueDateProblem('2015-10-05', '2026-12-07')).to.equal(null);
    expect(issueDateProblem('2026-12-07', '2026-12-07')).to.equal(null);
    expect(issueDateProblem('2026-12-08', '2026-12-07')).to.equal('vault.issueDate.future');
  });
});
