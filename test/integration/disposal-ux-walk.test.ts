import { expect } from 'chai';
import { createHarness, dialectName, type Harness } from '../support/harness';
import { makeUser, makeClient, type MadeUser } from '../support/factories';
import { TestBrowser, csrfIn } from '../support/browser';
import { pdfBytes, uploadFiles } from '../support/files';
import { pdfSig, pdfText } from '../support/pdf';
import { CertificateRegister, certificateData } from '../support/certificates';
import { DisposalCertificate, DisposalItem, DisposalRequest, Employee, Firm, StoredFile, type Client } from '../../server/db/models';
import { findPerson } from '../../server/vault/people';
import { systemContext } from '../../server/audit';
import { numberFrom as valid } from '../support/vault';
import { ja } from '../support/security';
import { translate } from '../../server/i18n';
import { EXECUTOR_ON_APPROVAL } from '../../server/disposal/certificate-data';
import { renderCertificate } from '../../server/disposal/certificate-pdf';
import { PdfSigner } from '../../server/pdf/signing-identity';
import { checkCertificateFile } from '../../server/disposal/verify-certificate';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const binary = async (r: any): Promise<{ status: number; body: Buffer }> =>
  r.buffer(true).parse((res: NodeJS.ReadableStream, cb: (e: Error | null, b: Buffer) => void) => { const c: Buffer[] = []; res.on('data', (x: Buffer) => c.push(x)); res.on('end', () => cb(null, Buffer.concat(c))); });

/** pdftotext's text with line breaks and spaces taken out: a name wrapped over lines reads as one string again. */
const flat = (text: string) => text.replace(/\s/g, '');
/** The part of a page from an element with this test id to the end of the element whose closing tag is named. */
const part = (html: string, testid: string, close: string) => {
  const at = html.indexOf(`data-testid="${testid}"`);
  return at < 0 ? '' : html.slice(at, html.indexOf(close, at));
};

const FIRM = '暁社会保険労務士事務所';
// The client admin who asks, named as the walk found one: with the company's name, too long for a narrow box.
const REQUESTER = '株式会社みなと商事 人事総務部 労務管理グループ 山田 花子';

describe(`廃棄 UX walk: what /verify names, the link to it, who did what on the certificate, 申請 wording, open requests on the list (${dialectName})`, function () {
  this.timeout(120_000);
  let h: Harness;
  let client: Client;
  let clientAdmin: MadeUser;
  let firmAdmin: MadeUser;
  const recordIds: string[] = [];
  const numbers: string[] = [];
  let hr: TestBrowser;
  let admin: TestBrowser;
  let requestId: string;
  let cert: DisposalCertificate;
  let pdf: Buffer;

  before(async () => {
    h = await createHarness();
    await Firm.create({ id: 1, name: FIRM });
    client = await makeClient(h, { code: 'UX01', name: '株式会社みなと商事' });
    clientAdmin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false, name: REQUESTER });
    firmAdmin = await makeUser(h, { role: 'firm_admin', name: '所長 承認' });
    for (let i = 0; i < 4; i++) {
      const e = await Employee.create({ clientId: client.id, employeeCode: `U${i}`, name: `退職 太郎${i}`, nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: '2016-03-31', userId: null });
      numbers.push(valid(73650000000 + i * 913));
      const r = await h.booted.services.vault.register(systemContext('test'), await findPerson(client.id, 'employee', e.id), { number: numbers[i]!, issueDate: null }, { source: 'proxy', registeredBy: null });
      recordIds.push(r.id);
    }
    hr = new TestBrowser(h.portal.app);
    await hr.login(clientAdmin);
    admin = new TestBrowser(h.portal.app);
    await admin.login(firmAdmin);
  });
  after(async () => { await h?.close(); });

  it('after 「廃棄を申請しました。」 the pending request lists what it holds (count, masked names) and its rows are marked 申請中, not tickable; asking again is refused with a message naming the mark', async () => {
    await uploadFiles(hr, { direction: 'to_firm', category: 'identity' }, [{ name: '本人確認_U0.pdf', data: pdfBytes(2000) }]);
    const file = (await StoredFile.findOne({ where: { clientId: client.id, displayName: '本人確認_U0.pdf' } }))!;
    const token = await hr.csrf('/disposal');
    const asked = await hr.agent.post('/disposal/requests').type('form')
      .send(`_csrf=${encodeURIComponent(token)}&reason=${encodeURIComponent('保存期間満了')}&items=number:${recordIds[0]}&items=number:${recordIds[1]}&items=file:${file.id}`);
    expect(asked.status, asked.text).to.equal(303);
    requestId = (await DisposalRequest.findOne({ where: { clientId: client.id, status: 'requested' } }))!.id;
    const page = await hr.get(asked.headers.location as string);
    expect(page.text).to.contain(ja('disposal.requested'));

    // The open request: how many, and a list of them as the certificate will name them (masked), never the full names.
    const pending = part(page.text, `pending-${requestId}`, '</li>\n');
    expect(pending).to.contain(ja('disposal.status.requested'));
    const items = part(page.text, 'pending-items', '</details>');
    expect(items).to.contain(ja('disposal.showItems', { count: 3 }));
    expect(items).to.contain('U0 退＊ 太＊').and.contain('U1 退＊ 太＊').and.contain(ja('disposal.kind.file.identity'));
    expect(items).to.not.contain('退職 太郎');
    for (const n of numbers) expect(page.text).to.not.contain(n);

    // The requested rows: marked 申請中 and disabled; the others free to tick.
    const row = (id: string) => new RegExp(`<tr id="row-${id}"[^>]*>[\\s\\S]*?</tr>`).exec(page.text)?.[0] ?? '';
    for (const id of recordIds.slice(0, 2)) {
      expect(row(id)).to.contain(`value="number:${id}" disabled`).and.contain(`data-testid="requested-mark">${ja('disposal.inRequest')}<`);
    }
    for (const id of recordIds.slice(2)) expect(row(id)).to.not.contain('disabled').and.not.contain('requested-mark');
    const fileRow = new RegExp(`<li><label class="check"><input type="checkbox" name="items" value="file:${file.id}"[\\s\\S]*?</li>`).exec(page.text)?.[0] ?? '';
    expect(fileRow).to.contain('disabled').and.contain(ja('disposal.inRequest'));

    // Asked again anyway (a page left open, or a crafted form): the service refuses the whole request; the page says why, nothing is stored.
    const again = await hr.agent.post('/disposal/requests').type('form')
      .send(`_csrf=${encodeURIComponent(csrfIn(page.text))}&reason=${encodeURIComponent('再申請')}&items=number:${recordIds[1]}&items=number:${recordIds[2]}`);
    expect(again.status).to.equal(409);
    expect(again.text).to.contain(ja('disposal.alreadyRequested')).and.contain(`「${ja('disposal.inRequest')}」`);
    // What was ticked and may still be requested stays ticked; the requested row cannot be.
    expect(again.text).to.contain(`value="number:${recordIds[2]}" checked`).and.contain(`value="number:${recordIds[1]}" disabled`);
    expect(await DisposalRequest.count({ where: { clientId: client.id } })).to.equal(1);
  });

  it('the firm admin\'s home says 廃棄の申請 (as every other screen), and so does the mail', async () => {
    const home = await admin.get('/home');
    const notice = part(home.text, 'home-approvals', '</p>');
    expect(notice).to.contain('承認を待っている廃棄の申請があります（1件）').and.not.contain('依頼');
    // The notice that a request waits (the upload before it sent one of its own).
    // Queued with the request and sent just after it: waited for (up to 8 s on a busy machine).
    const approvalMail = () => [...h.smtp.messages].reverse().find((m) => String(m.subject).includes('承認を待って'));
    for (let i = 0; i < 400 && !approvalMail(); i++) await new Promise((r) => setTimeout(r, 20));
    const mail = approvalMail();
    expect(mail, 'the approval notice').to.not.equal(undefined);
    expect(`${mail!.subject}${mail!.text}`).to.contain('廃棄の申請').and.not.contain('依頼');
  });

  it('the certificate says who requested, who approved and that the system carried it out on approval; a long name is whole, never cut with …; pdfsig validates it', async () => {
    await admin.reauth(firmAdmin);
    expect((await admin.post(`/disposal/requests/${requestId}/approve`, {}, '/disposal/approvals')).status).to.equal(303);
    cert = (await DisposalCertificate.findOne({ where: { requestId } }))!;
    const dl = await binary(hr.agent.get(`/certificates/${cert.id}/download`));
    expect(dl.status).to.equal(200);
    pdf = dl.body;
    expect(pdfSig(pdf)).to.contain('Signature Validation: Signature is Valid.');
    const text = pdfText(pdf);
    expect(text).to.not.contain('…');
    const body = flat(text);
    expect(body).to.contain(`申請者${flat(REQUESTER)}`);
    expect(body).to.contain('承認者所長承認');
    expect(body).to.contain(`実施者${flat(EXECUTOR_ON_APPROVAL)}`);
    // The requester is not named as the one who carried it out.
    expect(body).to.not.contain(`実施者${flat(REQUESTER)}`);
  });

  it('a long firm name and a long requester wrap (in the people list, the issuer and the foot of every page), nothing cut; the file still verifies', async () => {
    const longFirm = '社会保険労務士法人あかつき総合労務管理センター東京本部 横浜支所 第二業務課';
    const longName = '株式会社みなと商事ホールディングス 人事総務本部 労務管理グループ 給与計算チーム 山田 花子';
    const data = certificateData({ number: 'DC-2026-000901', firmName: longFirm, requester: longName, approver: 'とても長い名前の事務所管理者 承認 三郎右衛門', publicUrl: h.config.publicUrl });
    const signer = await PdfSigner.create({ keys: h.booted.services.keys, config: h.config, firmName: async () => FIRM });
    const signed = await signer.sign(await renderCertificate(data), { reason: '廃棄・削除証明書の発行', name: FIRM, location: 'Japan', contactInfo: 'http://portal.test' });
    expect(pdfSig(signed)).to.contain('Signature Validation: Signature is Valid.');
    const text = pdfText(signed);
    expect(text).to.not.contain('…');
    const body = flat(text);
    expect(body).to.contain(flat(longName)).and.contain(flat(longFirm)).and.contain(flat(data.approver));
    expect(body).to.contain(flat(EXECUTOR_ON_APPROVAL));
    const register = new CertificateRegister().issue(data, signed);
    expect(await checkCertificateFile(signed, { findBySha256: (x) => register.findBySha256(x), trustedCertificatePem: (await signer.identity()).certificatePem })).to.equal('genuine');
  });

  it('/verify names the certificate checked — number, issue date, issuer, client, how many items — from the record, for the PDF and the QR link; nothing about a person, and nothing for a forged or unknown one', async () => {
    const v = new TestBrowser(h.portal.app);
    const ask = async (fields: Record<string, string>, file?: Buffer) => {
      const token = csrfIn((await v.get('/verify')).text);
      let r = v.agent.post('/verify').field('_csrf', token);
      for (const [k, val] of Object.entries(fields)) r = r.field(k, val);
      if (file) r = r.attach('file', file, { filename: 'c.pdf', contentType: 'application/pdf' });
      return (await r).text;
    };
    const expectNamed = (html: string) => {
      expect(/data-testid="verify-answer">([^<]+)</.exec(html)?.[1]).to.equal(ja('verify.answer.genuine'));
      const record = part(html, 'verify-certificate', '</section>');
      expect(/data-testid="verified-number">([^<]+)</.exec(record)?.[1]).to.equal(cert.number);
      expect(/data-testid="verified-issued">([^<]+)</.exec(record)?.[1]).to.match(/^令和\d+年\d+月\d+日（\d{4}年\d+月\d+日）$/);
      expect(/data-testid="verified-issuer">([^<]+)</.exec(record)?.[1]).to.equal(FIRM);
      expect(/data-testid="verified-client">([^<]+)</.exec(record)?.[1]).to.equal('UX01 株式会社みなと商事');
      expect(/data-testid="verified-items">([^<]+)</.exec(record)?.[1]).to.equal('3件');
      // Nobody's name or number: not the requester, approver, employees (masked or not), codes or numbers.
      for (const secret of [REQUESTER, '山田', '所長 承認', '退職', '退＊', 'U0', 'U1', '本人確認_U0', ...numbers]) expect(html).to.not.contain(secret);
    };
    expectNamed(await ask({}, pdf));
    expectNamed(await ask({ number: cert.number, sha256: cert.fingerprint }));
    const scanned = await new TestBrowser(h.portal.app).get(`/verify?number=${cert.number}&sha256=${cert.fingerprint}`);
    expectNamed(scanned.text);

    // Forged, altered or unknown: the answer only.
    const tampered = Buffer.from(pdf);
    tampered[300] = tampered[300]! ^ 0x01;
    for (const html of [
      await ask({}, tampered),
      await ask({ number: cert.number, sha256: 'a'.repeat(64) }),
      await ask({ number: 'DC-1999-000001', sha256: cert.fingerprint }),
      (await new TestBrowser(h.portal.app).get(`/verify?number=${cert.number}&sha256=${'b'.repeat(64)}`)).text,
    ]) {
      expect(html).to.contain('data-testid="verify-answer"');
      expect(html).to.not.contain('data-testid="verify-certificate"').and.not.contain('株式会社みなと商事').and.not.contain(FIRM);
    }

    // In English: the same facts in English words (the names are the record's own).
    const en = new TestBrowser(h.portal.app);
    await en.post('/lang', { lang: 'en', back: '/verify' }, '/verify');
    const english = (await en.get(`/verify?number=${cert.number}&sha256=${cert.fingerprint}`)).text;
    expect(/data-testid="verify-answer">([^<]+)</.exec(english)?.[1]).to.equal(translate('en', 'verify.answer.genuine'));
    const record = part(english, 'verify-certificate', '</section>');
    expect(record).to.contain(translate('en', 'verify.record.issuedOn')).and.contain(translate('en', 'verify.record.client'));
    expect(/data-testid="verified-issued">([^<]+)</.exec(record)?.[1]).to.match(/^\d{1,2} [A-Z][a-z]+ \d{4}$/);
    expect(/data-testid="verified-items">([^<]+)</.exec(record)?.[1]).to.equal('3');
    const own = record.replace(/<[^>]*>/g, ' ').replaceAll(FIRM, '').replaceAll(client.name, '');
    expect(own.match(/[\u3040-\u30ff\u3400-\u9fff（）「」。、]/g) ?? []).to.deep.equal([]);
  });

  it('the certificates page links to /verify, for the client admin and for the firm', async () => {
    for (const b of [hr, admin]) {
      const page = await b.get('/certificates');
      expect(page.status).to.equal(200);
      expect(page.text).to.contain(cert.number);
      expect(page.text).to.match(/<a href="\/verify" data-testid="verify-link">[^<]+<\/a>/);
    }
  });

  it('once carried out, the rows are free of the mark (the numbers are gone) and nothing stays open', async () => {
    expect(await DisposalItem.count({ where: { requestId, state: 'verified' } })).to.equal(3);
    const page = await hr.get('/disposal');
    expect(page.text).to.not.contain('data-testid="requested-mark"').and.not.contain('data-testid="pending-items"');
  });
});
