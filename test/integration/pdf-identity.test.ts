import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { createHarness, type Harness } from '../support/harness';
import { Firm, SigningIdentity } from '../../server/db/models';
import { Keys } from '../../server/crypto/keys';
import { Sealed } from '../../server/errors';
import { ConfigError, loadConfig } from '../../server/config';
import { ReportDocument } from '../../server/pdf/document';
import { PdfSigner, type PdfSignerDeps } from '../../server/pdf/signing-identity';
import { verifySignedPdf } from '../../server/pdf/sign-pdf';
import { inkPixels, keepArtifact, pdfSig, renderPage } from '../support/pdf';

const FIRM = '暁社会保険労務士事務所';
const META = { reason: '取扱状況報告書の発行', location: '東京都', contactInfo: 'http://portal.test' };

async function sampleReport(): Promise<Uint8Array> {
  const doc = await ReportDocument.create({ title: '特定個人情報 取扱状況報告書', firmName: FIRM, footerNote: '作成日 令和8年11月23日' });
  doc.title('特定個人情報 取扱状況報告書（2026年10月分）');
  doc.keyValues([['顧問先', 'C001 株式会社あかつき商事'], ['対象期間', '2026年10月1日 〜 2026年10月31日'], ['記録件数', '87件']]);
  doc.heading('日別の件数');
  doc.barChart({ caption: '閲覧・出力（日別）', data: Array.from({ length: 31 }, (_, i) => ({ label: String(i + 1), value: [0, 3, 5, 2, 8, 0, 0][i % 7]! })) });
  doc.heading('操作の記録');
  doc.table({
    columns: [{ header: '日時', width: 2 }, { header: '操作者', width: 1.6 }, { header: '対象者', width: 2 }, { header: '操作', width: 2.4 }],
    rows: [
      ['2026-10-01 09:15', '暁 事務員', '山田 太郎（**********18）', '閲覧（源泉徴収票・税務署）'],
      ['2026-10-02 14:02', '暁 事務員', '佐藤 花子（**********27）', 'CSV出力（給与支払報告書・市区町村）'],
      ['2026-10-09 10:40', '暁 所長', '鈴木 一郎（**********35）', '照合'],
    ],
  });
  doc.rule();
  doc.paragraph('本報告書は電子署名されています。署名の検証には PDF 閲覧ソフトの署名パネルをご利用ください。');
  return doc.finish();
}

describe('The firm\'s signing identity: made once at first use, shared through the database', () => {
  let h: Harness;
  let deps: PdfSignerDeps;
  let pdf: Uint8Array;

  before(async () => {
    h = await createHarness();
    await Firm.create({ id: 1, name: FIRM });
    deps = { keys: h.booted.services.keys, config: h.config, firmName: async () => (await Firm.findByPk(1))!.name };
    pdf = await sampleReport();
  });
  after(async () => { await h.close(); });

  it('is made at the first signature, not before, in the firm\'s Japanese name', async () => {
    const signer = await PdfSigner.create(deps);
    expect(await SigningIdentity.count()).to.equal(0);

    const signed = await signer.sign(pdf, META);
    const report = pdfSig(signed);
    expect(report).to.contain('Signature Validation: Signature is Valid.');
    expect(report).to.contain(`Signer Certificate Common Name: ${FIRM}`);
    expect(await verifySignedPdf(signed)).to.include({ valid: true, signer: FIRM, reason: META.reason });

    const rows = await SigningIdentity.findAll();
    expect(rows).to.have.length(1);
    const row = rows[0]!;
    expect(row.id).to.equal(1);
    expect(row.source).to.equal('generated');
    const cert = new X509Certificate(row.certificatePem);
    expect(cert.subject.split('\n')).to.have.members(['C=JP', `O=${FIRM}`, `CN=${FIRM}`]);
    expect(cert.issuer).to.equal(cert.subject);
    expect(cert.verify(cert.publicKey)).to.equal(true);
    expect(cert.publicKey.asymmetricKeyType).to.equal('rsa');
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).to.be.at.least(2048);
    const years = (new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime()) / (365.25 * 86_400_000);
    expect(years).to.be.within(9.9, 10.1);

    // The private key is stored sealed under the master key, and opens only under its label and owner.
    const keyDer = h.booted.services.keys.ring().openSecret('pdf-signing', '1', row.privateKeySealed);
    // Neither as PEM nor as the key's own DER in base64 (a bare "MII" could turn up in any ciphertext's base64).
    expect(row.privateKeySealed).to.not.contain('PRIVATE KEY');
    expect(row.privateKeySealed).to.not.contain(keyDer.subarray(0, 48).toString('base64'));
    expect(row.privateKeySealed).to.not.contain(keyDer.subarray(100, 148).toString('base64'));
    const publicOfKey = createPublicKey(createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' });
    expect(publicOfKey.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))).to.equal(true);
    expect(() => h.booted.services.keys.ring().openSecret('pdf-signing', '2', row.privateKeySealed)).to.throw();

    expect(await signer.identity()).to.include({ source: 'generated', commonName: FIRM, fingerprint256: cert.fingerprint256 });
  });

  it('is reused by every signer on the database, even several starting at once (one row)', async () => {
    await SigningIdentity.destroy({ where: {} });
    // Two instances that both find no identity and race to make one: one insert wins, both use it.
    const [a, b] = await Promise.all([PdfSigner.create(deps), PdfSigner.create(deps)]);
    const [signedA, signedB] = await Promise.all([a.sign(pdf, META), b.sign(pdf, META)]);
    expect(await SigningIdentity.count()).to.equal(1);
    const stored = new X509Certificate((await SigningIdentity.findByPk(1))!.certificatePem).fingerprint256;
    const checkA = await verifySignedPdf(signedA);
    const checkB = await verifySignedPdf(signedB);
    expect(checkA).to.include({ valid: true, fingerprint256: stored });
    expect(checkB).to.include({ valid: true, fingerprint256: stored });

    const later = await PdfSigner.create(deps);
    const checkC = await verifySignedPdf(await later.sign(pdf, META), { trusted: [(await later.identity()).certificatePem] });
    expect(checkC).to.include({ valid: true, fingerprint256: stored });
    expect(await SigningIdentity.count()).to.equal(1);
  });

  it('cannot sign while the portal is sealed, and says so', async () => {
    const sealed = await PdfSigner.create({ ...deps, keys: Keys.sealed('missing') });
    let error: unknown;
    try { await sealed.sign(pdf, META); } catch (err) { error = err; }
    expect(error).to.be.instanceOf(Sealed);
  });

  it('signs a sample report whose first page is kept as test/artifacts/pdf/signed-report-page1.png', async () => {
    const signer = await PdfSigner.create(deps);
    await signer.sign(pdf, META); // loads (unseals) the identity once
    const started = performance.now();
    const signed = await signer.sign(pdf, META);
    console.log(`      one signature (RSA 3072, ${(pdf.length / 1024).toFixed(0)} KiB report): ${(performance.now() - started).toFixed(0)} ms`);
    expect(pdfSig(signed)).to.contain('Signature Validation: Signature is Valid.');
    const png = renderPage(signed, 1, 80);
    expect(inkPixels(png)).to.be.greaterThan(3000);
    keepArtifact('signed-report.pdf', signed);
    const file = keepArtifact('signed-report-page1.png', png);
    expect(fs.statSync(file).size).to.equal(png.length);
  });
});

/** A CA and a firm certificate it issued, both with Japanese names, in a PKCS#12 file made by node-forge. */
function makeP12(file: string, password: string): { caPem: string; leafName: string } {
  const utf8 = forge.asn1.Type.UTF8;
  const name = (cn: string) => [{ shortName: 'C', value: 'JP' }, { shortName: 'O', value: '暁税理士法人', valueTagClass: utf8 }, { shortName: 'CN', value: cn, valueTagClass: utf8 }];
  const make = (subject: string, issuer: string, publicKey: forge.pki.rsa.PublicKey, signingKey: forge.pki.rsa.PrivateKey, ca: boolean) => {
    const cert = forge.pki.createCertificate();
    cert.publicKey = publicKey;
    cert.serialNumber = ca ? '01' : '02';
    cert.validity.notBefore = new Date(Date.now() - 3600_000);
    cert.validity.notAfter = new Date(Date.now() + 365 * 86_400_000);
    cert.setSubject(name(subject) as forge.pki.CertificateField[]);
    cert.setIssuer(name(issuer) as forge.pki.CertificateField[]);
    cert.setExtensions(ca
      ? [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]
      : [{ name: 'basicConstraints', cA: false }, { name: 'keyUsage', digitalSignature: true, nonRepudiation: true, critical: true }]);
    cert.sign(signingKey, forge.md.sha256.create());
    return cert;
  };
  const caKeys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const leafKeys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const caCert = make('暁テスト認証局', '暁テスト認証局', caKeys.publicKey, caKeys.privateKey, true);
  const leafName = '暁税理士法人 文書署名用';
  const leafCert = make(leafName, '暁テスト認証局', leafKeys.publicKey, caKeys.privateKey, false);
  const p12 = forge.pkcs12.toPkcs12Asn1(leafKeys.privateKey, [leafCert, caCert], password, { algorithm: 'aes256' });
  fs.writeFileSync(file, Buffer.from(forge.asn1.toDer(p12).getBytes(), 'binary'));
  return { caPem: forge.pki.certificateToPem(caCert), leafName };
}

describe('The firm\'s signing identity: its own certificate from a PKCS#12 file', () => {
  let h: Harness;
  let p12File: string;
  let made: { caPem: string; leafName: string };
  const password = 'correct horse battery staple';

  before(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-p12-'));
    p12File = path.join(dir, 'firm.p12');
    made = makeP12(p12File, password);
    h = await createHarness({ PDF_SIGNING_P12: p12File, PDF_SIGNING_P12_PASSWORD: password });
    await Firm.create({ id: 1, name: FIRM });
  });
  after(async () => {
    await h.close();
    fs.rmSync(path.dirname(p12File), { recursive: true, force: true });
  });

  it('reads PDF_SIGNING_P12 and PDF_SIGNING_P12_PASSWORD into config.pdfSigning, naming a lone password as a problem', () => {
    expect(h.config.pdfSigning).to.deep.equal({ p12File, p12Password: password });
    expect(loadConfig({}, '/srv/portal').pdfSigning).to.deep.equal({ p12File: null, p12Password: '' });
    expect(loadConfig({ PDF_SIGNING_P12: 'keys/firm.p12' }, '/srv/portal').pdfSigning).to.deep.equal({ p12File: '/srv/portal/keys/firm.p12', p12Password: '' });
    let error: unknown;
    try { loadConfig({ PDF_SIGNING_P12_PASSWORD: 'x', PORT: 'eighty' }); } catch (err) { error = err; }
    expect(error).to.be.instanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).to.have.length(2);
    expect(problems.some((p) => p.startsWith('PDF_SIGNING_P12_PASSWORD: set, but PDF_SIGNING_P12'))).to.equal(true);
  });

  it('signs with the file\'s certificate, embeds its CA, and makes no identity of its own', async () => {
    const signer = await PdfSigner.create({ keys: h.booted.services.keys, config: h.config, firmName: async () => FIRM });
    expect(await signer.identity()).to.include({ source: 'p12', commonName: made.leafName });
    const signed = await signer.sign(await sampleReport(), META);
    const report = pdfSig(signed);
    expect(report).to.contain('Signature Validation: Signature is Valid.');
    expect(report).to.contain(`Signer Certificate Common Name: ${made.leafName}`);
    // Trusting the CA is enough: the path runs through the certificate the signature carries.
    expect(await verifySignedPdf(signed, { trusted: [made.caPem] })).to.include({ valid: true, signer: made.leafName });
    // An empty trust list trusts no one.
    expect(await verifySignedPdf(signed, { trusted: [] })).to.include({ valid: false });
    expect(await SigningIdentity.count()).to.equal(0);
  });

  it('a wrong password stops PdfSigner.create with a message naming the setting', async () => {
    let error: unknown;
    try {
      await PdfSigner.create({ keys: h.booted.services.keys, config: { pdfSigning: { p12File, p12Password: 'wrong' } }, firmName: async () => FIRM });
    } catch (err) { error = err; }
    expect(String(error)).to.match(/PDF_SIGNING_P12 \(.*firm\.p12\): wrong password/);
  });
});
