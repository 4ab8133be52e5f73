import { expect } from 'chai';
import { checkType } from '../../server/files/file-types';

const text = (s: string) => Buffer.from(s, 'utf8');

describe('File types: what is checked against the bytes', () => {
  it('takes plain notes and CSV, with or without a byte-order mark, Japanese included', async () => {
    for (const [name, body] of [['note.txt', '議事録\n出席: 3名\n'], ['list.csv', '社員コード,氏名\nE1,山田 太郎\n'], ['bom.csv', '\uFEFF社員コード,氏名\r\nE1,山田\r\n'], ['math.txt', '1 < 2 and 3 > 2\n']] as const) {
      const verdict = await checkType(text(body), name);
      expect(verdict.ok, name).to.equal(true);
    }
  });

  it('refuses markup a browser would run, whatever the file is called: a byte-order mark or white space first, any opening tag', async () => {
    for (const [name, body] of [
      ['page.txt', '<!doctype html><script>alert(1)</script>'],
      ['bom.txt', '\uFEFF<html><body>x</body></html>'],
      ['onload.csv', '<body onload=alert(1)>'],
      ['spaced.csv', '\n\n   <img src=x onerror=alert(1)>'],
      ['xml.txt', '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'],
      ['upper.txt', '<SCRIPT>alert(1)</SCRIPT>'],
    ] as const) {
      expect(await checkType(text(body), name), name).to.deep.equal({ ok: false, mismatch: true });
    }
  });

  it('a name of a type the portal does not take is refused as such, not as bytes contradicting their name', async () => {
    expect(await checkType(text('Sub Auto_Open()'), 'macro.xlsm')).to.deep.equal({ ok: false, mismatch: false });
    expect(await checkType(text('<html>'), 'page.html')).to.deep.equal({ ok: false, mismatch: false });
  });
});
