import { expect } from 'chai';
import { maskName, maskPersonLabel } from '../../../server/reports/report-data';

describe('maskName: names on certificates, reports, the log and link pages', () => {
  it('keeps the first character of each part and hides the rest', () => {
    expect(maskName('山田 太郎')).to.equal('山＊ 太＊');
    expect(maskPersonLabel('E001 山田 太郎 > 山田 花子')).to.equal('E001 山＊ 太＊ > 山＊ 花＊');
  });

  it('never shows a one-character given name whole (伊藤 誠 was 伊＊ 誠 on the 廃棄・削除証明書; 林 誠 was not masked at all)', () => {
    expect(maskName('伊藤 誠')).to.equal('伊＊ ＊');
    expect(maskName('林 誠')).to.equal('林 ＊');
    expect(maskPersonLabel('M0004 伊藤 誠 > 伊藤 愛')).to.equal('M0004 伊＊ ＊ > 伊＊ ＊');
    expect(maskName('小林 弁護士')).to.equal('小＊ 弁＊＊');
  });
});
