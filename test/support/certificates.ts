import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import QRCode from 'qrcode';
import { certificateFingerprint, EXECUTOR_ON_APPROVAL, type CertificateData, type CertificateItem } from '../../server/disposal/certificate-data';
import { decodePng, withPdfFile } from './pdf';

/**
 * 廃棄・削除証明書 fixtures: certificate facts as the disposal service would gather them, an
 * in-memory register of issued certificates (what the verify page looks up), and looking at the
 * QR code a PDF carries.
 */

export const CERT_FIRM = '暁社会保険労務士事務所';
const SURNAMES = ['山＊', '佐＊', '髙＊', '鈴＊', '田＊', '渡＊'];
const GIVEN = ['太＊', '花＊', '健＊', '一＊', '美＊'];
const KINDS = ['個人番号（本人）', '個人番号（扶養家族）', 'ファイル（本人確認書類）'];

export function sampleItems(count: number): CertificateItem[] {
  return Array.from({ length: count }, (_, i) => ({
    employeeCode: i % 17 === 16 ? null : `E-${String(1001 + i).padStart(6, '0')}`,
    maskedLabel: `${SURNAMES[i % SURNAMES.length]} ${GIVEN[i % GIVEN.length]}`,
    dataKind: KINDS[i % KINDS.length]!,
    reason: i % 5 === 4 ? '利用目的の終了' : '保存期間満了（退職後7年）',
    disposedOn: `2026-11-${String(18 + (i % 3)).padStart(2, '0')}`,
  }));
}

/** Complete certificate data: fingerprint of the facts, and the verify link carrying number and fingerprint. */
export function certificateData(o: {
  number?: string; items?: number | CertificateItem[]; wholeClient?: boolean; issuedAt?: Date; publicUrl?: string;
  client?: { code: string; name: string }; firmName?: string; requester?: string; approver?: string; executor?: string;
} = {}): CertificateData {
  const base = {
    number: o.number ?? 'DC-2026-000123',
    // 10:30 on 23 November 2026 in Japan
    issuedAt: o.issuedAt ?? new Date('2026-11-23T01:30:00.000Z'),
    client: o.client ?? { code: 'C001', name: '株式会社あかつき商事' },
    firmName: o.firmName ?? CERT_FIRM,
    items: Array.isArray(o.items) ? o.items : sampleItems(o.items ?? 3),
    requester: o.requester ?? '申請 次郎',
    approver: o.approver ?? '承認 三郎',
    executor: o.executor ?? EXECUTOR_ON_APPROVAL,
    wholeClient: o.wholeClient ?? false,
    method: '顧問先ごとの暗号鍵（AES-256-GCM）を消去し、暗号化データと保存オブジェクトを削除',
    category: 'Purge（暗号学的消去）',
    verification: '暗号文・検索用索引・暗号鍵・保存オブジェクトが残っていないことを削除後に自動で確認',
    software: 'Akatsuki Portal (暁ポータル) 0.1.0',
    backups: 'バックアップは30日で上書き。暗号鍵を消去したため、残る暗号化データも復元できない',
  };
  const fingerprint = certificateFingerprint(base);
  return { ...base, fingerprint, verifyUrl: `${o.publicUrl ?? 'http://portal.test'}/verify?number=${base.number}&sha256=${fingerprint}` };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** What the portal keeps of each issued certificate: number, fingerprint, the file's SHA-256. */
export class CertificateRegister {
  private readonly byNumber = new Map<string, { number: string; fingerprint: string; sha256: string }>();
  lookups = 0;

  issue(data: Pick<CertificateData, 'number' | 'fingerprint'>, signedPdf: Uint8Array): this {
    this.byNumber.set(data.number, { number: data.number, fingerprint: data.fingerprint, sha256: sha256Hex(signedPdf) });
    return this;
  }

  async findBySha256(hex: string): Promise<{ number: string } | null> {
    this.lookups++;
    for (const r of this.byNumber.values()) if (r.sha256 === hex) return { number: r.number };
    return null;
  }

  async findByNumber(number: string): Promise<{ fingerprint: string; sha256: string } | null> {
    this.lookups++;
    const r = this.byNumber.get(number);
    return r ? { fingerprint: r.fingerprint, sha256: r.sha256 } : null;
  }
}

export interface PdfImageRow { page: number; type: string; width: number; height: number; color: string; bpc: number }

/** `pdfimages -list`: the images a PDF embeds, one row each (an image's alpha channel is a row of type smask). */
export function pdfImageList(bytes: Uint8Array): PdfImageRow[] {
  const out = withPdfFile(bytes, (file) => execFileSync('pdfimages', ['-list', file], { encoding: 'utf8' }));
  return out.split('\n').slice(2).filter((l) => l.trim() !== '').map((line) => {
    const f = line.trim().split(/\s+/);
    return { page: Number(f[0]), type: f[2]!, width: Number(f[3]), height: Number(f[4]), color: f[5]!, bpc: Number(f[7]) };
  });
}

/** Pages in the document, as pdfinfo counts them. */
export function pdfPageCount(bytes: Uint8Array): number {
  const out = withPdfFile(bytes, (file) => execFileSync('pdfinfo', [file], { encoding: 'utf8' }));
  const m = /^Pages:\s+(\d+)/m.exec(out);
  if (!m) throw new Error('pdfinfo gave no page count');
  return Number(m[1]);
}

/** The embedded images of type "image" (not their masks) as PNG files, in pdfimages' order. */
export function extractImages(bytes: Uint8Array): Buffer[] {
  return withPdfFile(bytes, (file, dir) => {
    execFileSync('pdfimages', ['-png', file, path.join(dir, 'img')]);
    const types = pdfImageList(bytes).map((r) => r.type);
    return fs.readdirSync(dir).filter((f) => f.startsWith('img-') && f.endsWith('.png')).sort()
      .filter((_, i) => types[i] === 'image').map((f) => fs.readFileSync(path.join(dir, f)));
  });
}

/**
 * Whether a QR image (as qrcode draws it: `margin` modules of quiet zone, scaled to its width)
 * shows exactly the modules of `text`'s QR code. No QR decoder is installed: this compares the
 * picture with the symbol qrcode makes for the text, module by module, at each module's centre.
 */
export function qrImageEncodes(png: Buffer, text: string, margin = 1): { ok: boolean; size: number; wrong: number } {
  const { width, height, channels, pixels } = decodePng(png);
  const modules = QRCode.create(text, {}).modules;
  const size = modules.size;
  const scale = width / (size + 2 * margin);
  let wrong = 0;
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const x = Math.floor((c + margin + 0.5) * scale);
      const y = Math.floor((r + margin + 0.5) * scale);
      const dark = pixels[(y * width + x) * channels]! < 128;
      if (dark !== Boolean(modules.get(r, c))) wrong++;
    }
  }
  return { ok: width === height && wrong === 0, size, wrong };
}

/** Runs of 12 or more digits (a My Number's length) in `text`, leaving out those inside `hex` strings printed on purpose. */
export function twelveDigitRuns(text: string, allowedHex: readonly string[]): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/[0-9a-fA-F]*\d{12,}[0-9a-fA-F]*/g)) {
    const token = m[0].toLowerCase();
    if (allowedHex.some((h) => h.includes(token))) continue;
    found.push(m[0]);
  }
  return found;
}

/** A copy with one bit flipped at `index`. */
export function withByteChanged(bytes: Uint8Array, index: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[index]! ^= 1;
  return copy;
}

/** [0, holeStart, holeEnd, tailLength] of the signature, from its /ByteRange. */
export function signatureByteRange(bytes: Uint8Array): [number, number, number, number] {
  const m = /\/ByteRange \[(\d+) (\d+) (\d+) (\d+)\s*\]/.exec(Buffer.from(bytes).toString('latin1'));
  if (!m) throw new Error('no /ByteRange');
  return [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
}
