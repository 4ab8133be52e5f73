import { expect } from 'chai';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { ReportDocument } from '../../server/pdf/document';
import { selfSignedCertificate, toPem } from '../../server/pdf/certificate';
import type { SigningKey } from '../../server/pdf/cms-signer';
import { signPdf, verifySignedPdf } from '../../server/pdf/sign-pdf';
import { pdfSig, pdfText } from '../support/pdf';

const FIRM = '暁社会保険労務士事務所';
// 」 (U+300D) and 小 (U+5C0F) put a CR and a backslash byte into UTF-16BE: the escaping must hold.
const REASON = '特定個人情報の取扱状況報告書「小規模事業所」の発行';

function identity(type: 'rsa' | 'ec', commonName = FIRM): SigningKey {
  const { publicKey, privateKey } = type === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, certificate: selfSignedCertificate({ publicKey, privateKey, commonName, organization: FIRM, country: 'JP', validYears: 10 }) };
}

async function sampleDocument(): Promise<Uint8Array> {
  const doc = await ReportDocument.create({ title: '廃棄・削除証明書', firmName: FIRM });
  doc.title('廃棄・削除証明書');
  doc.keyValues([['顧問先', 'C001 株式会社あかつき商事'], ['削除件数', '12件'], ['削除方法', '暗号鍵の破棄による復元不能化']]);
  doc.paragraph('上記の特定個人情報を、復元できない方法で削除したことを証明します。');
  return doc.finish();
}

/** The verdict line of pdfsig for the (only) signature. */
function pdfsigValidation(bytes: Uint8Array): string {
  const line = pdfSig(bytes).split('\n').find((l) => l.includes('Signature Validation:'));
  if (!line) throw new Error('pdfsig found no signature');
  return line.trim();
}

/** A copy with one bit flipped at `index`. */
function withByteChanged(bytes: Uint8Array, index: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[index]! ^= 1;
  return copy;
}

function byteRange(bytes: Uint8Array): [number, number, number, number] {
  const m = /\/ByteRange \[(\d+) (\d+) (\d+) (\d+)\s*\]/.exec(Buffer.from(bytes).toString('latin1'));
  if (!m) throw new Error('no /ByteRange');
  return [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
}

describe('Signed PDFs: a CMS signature that pdfsig accepts, with Japanese names', () => {
  let key: SigningKey;
  let signed: Uint8Array;
  // Whole seconds, as PDF dates and UTCTime carry them.
  const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);

  before(async () => {
    key = identity('rsa');
    signed = await signPdf(await sampleDocument(), key, { reason: REASON, location: '東京都千代田区', contactInfo: 'https://portal.example.jp', signingTime });
  });

  it('is valid for pdfsig, naming the Japanese signer and covering the whole document', () => {
    const report = pdfSig(signed);
    expect(report).to.contain('Signature Validation: Signature is Valid.');
    expect(report).to.contain(`Signer Certificate Common Name: ${FIRM}`);
    expect(report).to.contain('Total document signed');
    expect(report).to.contain('Signature Type: adbe.pkcs7.detached');
    expect(report).to.contain('Signing Hash Algorithm: SHA-256');
    // The document itself is untouched by signing.
    expect(pdfText(signed)).to.contain('上記の特定個人情報を、復元できない方法で削除したことを証明します。');
  });

  it('is valid for verifySignedPdf, with the signer, the Japanese reason and the signing time', async () => {
    const check = await verifySignedPdf(signed);
    expect(check).to.include({ valid: true, signer: FIRM, reason: REASON, location: '東京都千代田区', name: FIRM });
    expect(check.signedAt?.toISOString()).to.equal(signingTime.toISOString());
    expect(check.fingerprint256).to.equal(new X509Certificate(key.certificate).fingerprint256);
    expect(check.problem).to.equal(undefined);
  });

  it('one byte changed inside the signed range: pdfsig reports a digest mismatch, verifySignedPdf says invalid', async () => {
    const [, holeStart, holeEnd] = byteRange(signed);
    // Places that leave the file readable: inside the first compressed stream (before the hole),
    // and a digit of the /M date in the signature dictionary (after it).
    const text = Buffer.from(signed).toString('latin1');
    const early = text.indexOf('stream\n') + 'stream\n'.length + 20;
    const late = text.indexOf('/M (D:', holeEnd) + '/M (D:'.length + 10;
    expect(early).to.be.within(1, holeStart - 1);
    expect(late).to.be.within(holeEnd, signed.length - 1);
    for (const tampered of [withByteChanged(signed, early), withByteChanged(signed, late)]) {
      const verdict = pdfsigValidation(tampered);
      expect(verdict).to.not.contain('Signature is Valid.');
      expect(verdict).to.match(/Digest Mismatch|Invalid/);
      const check = await verifySignedPdf(tampered);
      expect(check.valid).to.equal(false);
      expect(check.problem).to.match(/digest mismatch/);
    }
  });

  it('bytes appended after signing, or a changed signature, are not valid either', async () => {
    const appended = Buffer.concat([Buffer.from(signed), Buffer.from('\n% appended\n')]);
    expect(await verifySignedPdf(appended)).to.include({ valid: false, problem: 'no signature covers the whole file' });

    const [, holeStart] = byteRange(signed);
    const inSignature = withByteChanged(signed, holeStart + 1000);
    expect((await verifySignedPdf(inSignature)).valid).to.equal(false);
    expect(pdfsigValidation(inSignature)).to.not.contain('Signature is Valid.');
  });

  it('a signing time outside the certificate\'s validity is not valid', async () => {
    const early = await signPdf(await sampleDocument(), key, { reason: REASON, signingTime: new Date(Date.now() - 3 * 86_400_000) });
    expect(await verifySignedPdf(early)).to.include({ valid: false, problem: 'signed outside the certificate\'s validity period' });
  });

  it('an already signed PDF is not signed again (re-saving would break the first signature)', async () => {
    let error: unknown;
    try { await signPdf(signed, key, { reason: REASON }); } catch (err) { error = err; }
    expect(String(error)).to.contain('already signed');
  });

  it('an unsigned PDF is not valid', async () => {
    expect(await verifySignedPdf(await sampleDocument())).to.include({ valid: false });
  });

  it('with trusted certificates: valid for the firm\'s own, not for a look-alike with the same name', async () => {
    expect((await verifySignedPdf(signed, { trusted: [toPem(key.certificate)] })).valid).to.equal(true);
    const forger = identity('rsa');
    const forged = await signPdf(await sampleDocument(), forger, { reason: REASON });
    expect(await verifySignedPdf(forged)).to.include({ valid: true, signer: FIRM });
    const check = await verifySignedPdf(forged, { trusted: [toPem(key.certificate)] });
    expect(check).to.include({ valid: false, problem: 'the signer is not one of the trusted certificates' });
  });

  it('ECDSA keys sign too', async () => {
    const ec = identity('ec', '暁 ECDSA 署名');
    const bytes = await signPdf(await sampleDocument(), ec, { reason: REASON });
    expect(pdfsigValidation(bytes)).to.equal('- Signature Validation: Signature is Valid.');
    expect(await verifySignedPdf(bytes)).to.include({ valid: true, signer: '暁 ECDSA 署名' });
  });
});
