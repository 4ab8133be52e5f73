import type { Keys } from '../crypto/keys';
import type { Config } from '../config';
import { Firm } from '../db/models';
import { PdfSigner } from '../pdf/signing-identity';
import type { Lang } from '../i18n';
import { translate } from '../i18n';
import type { ReportData } from './report-data';
import type { CertificateData } from '../disposal/certificate-data';

// pdf-lib, fontkit and the fonts (~40 MiB) load when the first PDF is made, not in every process at start.
// Only modules without state load this way (under the test runner a dynamic import can be a second copy of a module).
const layout = () => import('../pdf/document');
const reportLayout = () => import('./report-pdf');
const certificateLayout = () => import('../disposal/certificate-pdf');

/** The firm's PDFs: laid out, then signed with the firm's identity (made once, shared through the database). */
export class PdfService {
  private signer: Promise<PdfSigner> | null = null;

  constructor(private readonly d: { keys: Keys; config: Config }) {}

  /** The firm's name; before first-run setup there is none, and nothing may be signed in a made-up name. */
  async firmName(): Promise<string> {
    const firm = await Firm.findByPk(1);
    if (!firm) throw new Error('the firm has not been set up yet');
    return firm.name;
  }

  /** At start-up: a configured PKCS#12 file that cannot be read stops the portal with a clear message. */
  async checkSigning(): Promise<void> {
    if (this.d.config.pdfSigning.p12File) await this.signerOf();
  }

  private signerOf(): Promise<PdfSigner> {
    this.signer ??= PdfSigner.create({ keys: this.d.keys, config: this.d.config, firmName: () => this.firmName() }).catch((err: unknown) => {
      this.signer = null;
      throw err;
    });
    return this.signer;
  }

  async accessReport(data: ReportData): Promise<Uint8Array> {
    const firm = await this.firmName();
    const pdf = await (await reportLayout()).renderAccessReport(data, firm, 'ja');
    return (await this.signerOf()).sign(pdf, { reason: translate('ja', 'report.pdf.signReason'), name: firm, location: 'Japan', contactInfo: this.d.config.publicUrl });
  }

  /** A 廃棄・削除証明書, signed. */
  async certificate(data: CertificateData): Promise<Uint8Array> {
    const pdf = await (await certificateLayout()).renderCertificate(data);
    return (await this.signerOf()).sign(pdf, { reason: '廃棄・削除証明書', name: data.firmName, location: 'Japan', contactInfo: this.d.config.publicUrl });
  }

  /** The certificate the firm signs with, which a verification must find on a genuine file. */
  async trustedCertificatePem(): Promise<string> {
    return (await (await this.signerOf()).identity()).certificatePem;
  }

  /** The filtered access log as a table, signed like the reports. */
  async logTable(header: string[], rows: string[][], conditions: [string, string][], lang: Lang): Promise<Uint8Array> {
    const firm = await this.firmName();
    const { ReportDocument } = await layout();
    const doc = await ReportDocument.create({ title: translate(lang, 'log.title'), firmName: firm, lang });
    doc.title(translate(lang, 'log.title'));
    doc.heading(translate(lang, 'log.pdf.conditions'));
    doc.keyValues(conditions, { size: 8 });
    doc.space(6);
    doc.table({ columns: header.map((h, i) => ({ header: h, width: [2.2, 2, 2, 2.4, 2, 2.2, 1.6, 1, 1, 1.8][i] ?? 1 })), rows, fontSize: 6.5 });
    return (await this.signerOf()).sign(await doc.finish(), { reason: translate(lang, 'log.title'), name: firm, location: 'Japan', contactInfo: this.d.config.publicUrl });
  }
}
