import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { createHarness, dialectName, type Harness } from '../support/harness';
import { Firm } from '../../server/db/models';
import { PdfSigner } from '../../server/pdf/signing-identity';
import { signPdf, verifySignedPdf } from '../../server/pdf/sign-pdf';
import { selfSignedCertificate, toPem } from '../../server/pdf/certificate';
import { ReportDocument } from '../../server/pdf/document';
import type { CertificateData } from '../../server/disposal/certificate-data';
import {
  CERTIFICATE_STATEMENT, CERTIFICATE_TITLE, ELECTRONIC_DISPOSAL_METHOD, VERIFY_NOTE, WHOLE_CLIENT_STATEMENT,
  issueDateLabel, renderCertificate, warekiDate,
} from '../../server/disposal/certificate-pdf';
import { checkCertificateFile, checkCertificateNumber } from '../../server/disposal/verify-certificate';
import { inkPixels, keepArtifact, pdfSig, pdfText, renderPage } from '../support/pdf';
import {
  CERT_FIRM, CertificateRegister, certificateData, extractImages, pdfImageList, pdfPageCount, qrImageEncodes, sampleItems, sha256Hex,
  signatureByteRange, twelveDigitRuns, withByteChanged,
} from '../support/certificates';

const SIGN_META = { reason: '廃棄・削除証明書の発行', name: CERT_FIRM, location: 'Japan', contactInfo: 'http://portal.test' };

/** pdftotext's text with line breaks taken out: a table cell wrapped over two lines reads as one string again. */
const joined = (text: string) => text.replace(/\n/g, '');

describe(`廃棄・削除証明書 PDF: layout, signature and the genuineness check (${dialectName})`, function () {
  this.timeout(120_000);
  let h: Harness;
  let signer: PdfSigner;
  let ourPem: string;
  let data: CertificateData;
  let unsigned: Uint8Array;
  let signed: Uint8Array;
  let register: CertificateRegister;

  before(async () => {
    h = await createHarness();
    await Firm.create({ id: 1, name: CERT_FIRM });
    signer = await PdfSigner.create({ keys: h.booted.services.keys, config: h.config, firmName: async () => CERT_FIRM });
    ourPem = (await signer.identity()).certificatePem;
    data = certificateData({ items: 3, publicUrl: h.config.publicUrl });
    unsigned = await renderCertificate(data);
    signed = await signer.sign(unsigned, SIGN_META);
    register = new CertificateRegister().issue(data, signed);
  });

  after(async () => {
    await h?.close();
  });

  describe('the document', () => {
    it('holds the title, number, 和暦 and western issue date, client, statement, items, requester, approver, executor, firm and fingerprint as text', () => {
      const text = pdfText(signed);
      const flat = joined(text);
      expect(text).to.contain(CERTIFICATE_TITLE);
      expect(text).to.contain('DC-2026-000123');
      expect(text).to.contain('令和8年11月23日（2026年11月23日）');
      expect(text).to.contain('株式会社あかつき商事').and.to.contain('C001');
      expect(flat).to.contain(CERTIFICATE_STATEMENT);
      for (const header of ['社員コード', '氏名（一部伏字）', 'データの種類', '理由', '廃棄日', '方法']) expect(text).to.contain(header);
      // The method sentence, in each of the three rows.
      expect(flat.split(ELECTRONIC_DISPOSAL_METHOD).length - 1).to.equal(3);
      for (const item of data.items) {
        expect(text).to.contain(item.maskedLabel);
        expect(flat).to.contain(item.dataKind);
        if (item.employeeCode) expect(text).to.contain(item.employeeCode);
      }
      expect(text).to.contain('2026/11/18').and.to.contain('保存期間満了（退職後7年）');
      expect(text).to.contain('削除完了日：令和8年11月20日');
      expect(text).to.contain('申請者').and.to.contain('申請 次郎');
      expect(text).to.contain('承認者').and.to.contain('承認 三郎');
      expect(text).to.contain('実施者');
      expect(flat).to.contain(data.executor);
      expect(text).to.contain('発行者').and.to.contain(CERT_FIRM);
      // The NIST SP 800-88 record.
      for (const value of [data.category, data.method, data.verification, data.software, data.backups]) expect(flat).to.contain(value);
      expect(text).to.contain('NIST SP 800-88');
      // How to check it: the sentence, the URL and the fingerprint, each whole.
      expect(flat).to.contain(VERIFY_NOTE);
      // The box's heading once, not again as the sentence's first words; the sentence points down to the URL, not at 「このURL」 it comes before.
      expect(flat.split('真正性の確認').length - 1).to.equal(1);
      expect(flat).to.not.contain('このURL');
      expect(text).to.contain(data.verifyUrl);
      expect(text).to.match(new RegExp(`SHA-256：\\s?${data.fingerprint}(\\s|$)`));
      // Not a whole-client disposal: no such sentence.
      expect(text).to.not.contain(WHOLE_CLIENT_STATEMENT);
      expect(text).to.match(/(^|\s)1 ?\/ ?1(\s|$)/);
    });

    it('prints no run of 12 digits (a My Number) outside the fingerprint and its link', () => {
      const text = pdfText(signed);
      expect(twelveDigitRuns(text, [data.fingerprint])).to.deep.equal([]);
      // The helper does find one when there is one.
      expect(twelveDigitRuns(`${text}\n123456789012\n`, [data.fingerprint])).to.deep.equal(['123456789012']);
    });

    it('is one A4 page that renders with ink (artefact: test/artifacts/pdf/certificate-page1.png)', () => {
      const info = pdfImageList(signed);
      expect(info.length).to.be.greaterThan(0);
      const png = renderPage(signed, 1, 80);
      keepArtifact('certificate-page1.png', png);
      keepArtifact('certificate.pdf', signed);
      expect(inkPixels(png)).to.be.greaterThan(20_000);
      // A4 at 80 dpi: 661 × 935 pixels.
      expect(png.readUInt32BE(16)).to.be.within(660, 662);
      expect(png.readUInt32BE(20)).to.be.within(934, 936);
    });

    it('embeds the QR code as a 240-pixel image that shows exactly the symbol of the verify URL', () => {
      const images = pdfImageList(signed).filter((r) => r.type === 'image');
      expect(images).to.have.length(1);
      expect(images[0]).to.include({ page: 1, width: 240, height: 240 });
      const [qr] = extractImages(signed);
      const match = qrImageEncodes(qr!, data.verifyUrl);
      expect(match.wrong, `${match.wrong} of ${match.size}² modules differ`).to.equal(0);
      expect(match.ok).to.equal(true);
      // …and not that of another URL.
      expect(qrImageEncodes(qr!, data.verifyUrl.replace('000123', '000124')).ok).to.equal(false);
    });

    it('links the QR code and the printed URL to the verify page', () => {
      // The signed file is written without object streams: its dictionaries can be read as they are.
      const raw = Buffer.from(signed).toString('latin1');
      const uriHex = Buffer.from(data.verifyUrl).toString('hex');
      expect(raw.split('/Subtype /Link').length - 1).to.equal(2);
      expect(raw.toLowerCase().split(uriHex).length - 1).to.equal(2);
    });

    it('is signed: pdfsig says "Signature is Valid." for the firm, verifySignedPdf trusts it', async () => {
      const report = pdfSig(signed);
      expect(report).to.contain('Signature Validation: Signature is Valid.');
      expect(report).to.contain(`Signer Certificate Common Name: ${CERT_FIRM}`);
      expect(report).to.contain('Total document signed');
      expect(await verifySignedPdf(signed, { trusted: [ourPem] })).to.include({ valid: true, signer: CERT_FIRM, reason: SIGN_META.reason });
    });

    it('120 items flow over pages with the header row repeated and "n / N" on every page; the checking block ends the last page', async () => {
      const big = certificateData({ number: 'DC-2026-000124', items: 120, wholeClient: true, publicUrl: h.config.publicUrl });
      const bytes = await signer.sign(await renderCertificate(big), SIGN_META);
      keepArtifact('certificate-120-items.pdf', bytes);
      const pages = pdfPageCount(bytes);
      expect(pages).to.be.at.least(2);
      let seenRows = 0;
      for (let page = 1; page <= pages; page++) {
        const text = pdfText(bytes, { first: page, last: page });
        expect(text, `page ${page}`).to.match(new RegExp(`(^|\\s)${page} ?/ ?${pages}(\\s|$)`));
        expect(text, `page ${page}`).to.contain('DC-2026-000124');
        const rows = big.items.filter((item, i) => item.employeeCode && text.includes(item.employeeCode) && text.includes(String(i + 1)));
        if (rows.length) {
          expect(text, `header on page ${page}`).to.contain('社員コード').and.to.contain('氏名（一部伏字）');
          seenRows += rows.length;
        }
      }
      expect(seenRows).to.equal(big.items.filter((i) => i.employeeCode).length);
      const first = pdfText(bytes, { first: 1, last: 1 });
      expect(joined(first)).to.contain(WHOLE_CLIENT_STATEMENT.replace(/。$/, ''));
      expect(first).to.contain('対象件数：120件');
      const last = pdfText(bytes, { first: pages, last: pages });
      expect(last).to.contain(big.verifyUrl).and.to.contain(big.fingerprint).and.to.contain('承認 三郎');
      expect(pdfText(bytes)).to.contain('120');
      expect(twelveDigitRuns(pdfText(bytes), [big.fingerprint])).to.deep.equal([]);
      expect(pdfSig(bytes)).to.contain('Signature is Valid.');
    });

    it('a free-text reason too long for its column is printed once below the table as ※1', async () => {
      const reason = '顧問先からの依頼による早期の削除。対象者の退職に伴い、扶養控除等申告書の保管が不要となったため（2026年11月の面談にて確認）';
      const d = certificateData({ number: 'DC-2026-000125', items: sampleItems(4).map((i) => ({ ...i, reason })) });
      const text = pdfText(await renderCertificate(d));
      expect(text.split('※1（下記）').length - 1).to.equal(4);
      expect(joined(text)).to.contain(`※1 理由：${reason}`);
    });

    it('refuses data whose fingerprint is not that of its facts', async () => {
      const wrong = { ...data, requester: '別人 五郎' };
      let error: unknown;
      try { await renderCertificate(wrong); } catch (err) { error = err; }
      expect(String(error)).to.contain('fingerprint');
    });

    it('reports characters the font lacks (drawn as 〓)', async () => {
      const missing: string[] = [];
      const d = certificateData({ number: 'DC-2026-000126', client: { code: 'C002', name: '株式会社スマイル🙂' } });
      const text = pdfText(await renderCertificate(d, { onMissingCharacter: (ch) => missing.push(ch) }));
      expect(missing).to.include('🙂');
      expect(text).to.contain('株式会社スマイル〓');
    });

    it('dates: 和暦 in Japan time, 元年 for the first year of an era', () => {
      expect(warekiDate(new Date('2019-05-01T00:00:00+09:00'))).to.equal('令和元年5月1日');
      expect(warekiDate(new Date('2019-04-30T23:59:00+09:00'))).to.equal('平成31年4月30日');
      // 00:30 on 23 November in Tokyo is still the 22nd in UTC.
      expect(issueDateLabel(new Date('2026-11-22T15:30:00Z'))).to.equal('令和8年11月23日（2026年11月23日）');
    });
  });

  describe('checkCertificateFile', () => {
    const deps = () => ({ findBySha256: (hex: string) => register.findBySha256(hex), trustedCertificatePem: ourPem });

    it('genuine: the signed certificate whose SHA-256 is on record', async () => {
      expect(await checkCertificateFile(signed, deps())).to.equal('genuine');
      // A list of the firm's certificates (after a change of key) works the same.
      const other = toPem(otherIdentity().certificate);
      expect(await checkCertificateFile(signed, { ...deps(), trustedCertificatePem: [other, ourPem] })).to.equal('genuine');
    });

    it('not genuine: signed by the firm but not on record (another rendering re-signed with the firm\'s key)', async () => {
      expect(await checkCertificateFile(signed, { ...deps(), findBySha256: async () => null })).to.equal('not_genuine');
      const altered = certificateData({ items: sampleItems(2), publicUrl: h.config.publicUrl });
      const resigned = await signer.sign(await renderCertificate(altered), SIGN_META);
      expect(await checkCertificateFile(resigned, deps())).to.equal('not_genuine');
    });

    it('not genuine: one byte changed in the signed content, after the signature, or bytes appended', async () => {
      const [, holeStart, holeEnd] = signatureByteRange(signed);
      const text = Buffer.from(signed).toString('latin1');
      const early = text.indexOf('stream\n') + 'stream\n'.length + 20;
      const late = text.indexOf('/M (D:', holeEnd) + '/M (D:'.length + 10;
      expect(early).to.be.within(1, holeStart - 1);
      expect(late).to.be.within(holeEnd, signed.length - 1);
      for (const tampered of [withByteChanged(signed, early), withByteChanged(signed, late)]) {
        expect(await checkCertificateFile(tampered, deps())).to.equal('not_genuine');
        expect(pdfSig(tampered)).to.not.contain('Signature is Valid.');
      }
      const appended = Buffer.concat([Buffer.from(signed), Buffer.from('\n% appended\n')]);
      expect(await checkCertificateFile(appended, deps())).to.equal('not_genuine');
    });

    it('a byte changed inside the signature itself is never genuine (not genuine while the firm\'s certificate is still in it)', async () => {
      const [, holeStart, holeEnd] = signatureByteRange(signed);
      // The DER length at the start of the CMS: it no longer parses, but carries the firm's certificate.
      expect(await checkCertificateFile(withByteChanged(signed, holeStart + 3), deps())).to.equal('not_genuine');
      for (const at of [holeStart + 1000, holeStart + 2000, Math.floor((holeStart + holeEnd) / 2), holeEnd - 40]) {
        expect(await checkCertificateFile(withByteChanged(signed, at), deps()), `byte ${at}`).to.be.oneOf(['not_genuine', 'unknown']);
      }
    });

    it('unknown: the same certificate unsigned, or signed by a look-alike certificate in the firm\'s name', async () => {
      expect(await checkCertificateFile(unsigned, deps())).to.equal('unknown');
      const forged = await signPdf(unsigned, otherIdentity(), SIGN_META);
      expect(await verifySignedPdf(forged)).to.include({ valid: true, signer: CERT_FIRM });
      expect(await checkCertificateFile(forged, deps())).to.equal('unknown');
      // Even with the forged file's hash on record, the signature is not the firm's.
      const fooled = { ...deps(), findBySha256: async () => ({ number: data.number }) };
      expect(await checkCertificateFile(forged, fooled)).to.not.equal('genuine');
    });

    it('unknown: another PDF, a truncated file, or something that is not a PDF', async () => {
      const doc = await ReportDocument.create({ title: '請求書', firmName: 'どこかの会社' });
      doc.title('請求書').paragraph('ご請求金額 10,000円');
      const otherPdf = await doc.finish();
      expect(await checkCertificateFile(otherPdf, deps())).to.equal('unknown');
      expect(await checkCertificateFile(new TextEncoder().encode('hello, this is not a PDF'), deps())).to.equal('unknown');
      expect(await checkCertificateFile(new Uint8Array(0), deps())).to.equal('unknown');
      expect(await checkCertificateFile(signed.subarray(0, 1000), deps())).to.equal('unknown');
    });
  });

  describe('checkCertificateNumber', () => {
    const deps = () => ({ findByNumber: (n: string) => register.findByNumber(n) });

    it('genuine: the number with its printed fingerprint, or with the file\'s SHA-256 (any case)', async () => {
      expect(await checkCertificateNumber(data.number, data.fingerprint, deps())).to.equal('genuine');
      expect(await checkCertificateNumber(data.number, sha256Hex(signed), deps())).to.equal('genuine');
      expect(await checkCertificateNumber(data.number, data.fingerprint.toUpperCase(), deps())).to.equal('genuine');
      // Typed by hand: full-width characters and surrounding spaces are forgiven.
      expect(await checkCertificateNumber(' ＤＣ－２０２６－０００１２３ ', ` ${data.fingerprint} `, deps())).to.equal('genuine');
    });

    it('not genuine: the number exists but the hex differs', async () => {
      const other = data.fingerprint.replace(/^./, (c) => (c === '0' ? '1' : '0'));
      expect(await checkCertificateNumber(data.number, other, deps())).to.equal('not_genuine');
      expect(await checkCertificateNumber(data.number, sha256Hex(withByteChanged(signed, 100)), deps())).to.equal('not_genuine');
    });

    it('unknown: a number never issued, or malformed input (without a look-up)', async () => {
      expect(await checkCertificateNumber('DC-2026-999999', data.fingerprint, deps())).to.equal('unknown');
      const before = register.lookups;
      for (const [number, hex] of [
        ['DC-2026-123', data.fingerprint], ['XX-2026-000123', data.fingerprint], ['DC-2026-000123x', data.fingerprint], ['', data.fingerprint],
        [data.number, data.fingerprint.slice(1)], [data.number, `${data.fingerprint}0`], [data.number, 'g'.repeat(64)], [data.number, ''],
        [data.number, 'a'.repeat(100_000)],
      ] as const) {
        expect(await checkCertificateNumber(number, hex, deps()), `${number} ${hex.slice(0, 70)}`).to.equal('unknown');
      }
      expect(register.lookups).to.equal(before);
    });
  });
});

/** A certificate and key of someone else, in the firm's name. */
function otherIdentity() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, certificate: selfSignedCertificate({ publicKey, privateKey, commonName: CERT_FIRM, organization: CERT_FIRM, country: 'JP', validYears: 5 }) };
}
