import { expect } from 'chai';
import { ReportDocument } from '../../server/pdf/document';
import { fontCharacterSet, replaceMissingCharacters, MISSING_MARK } from '../../server/pdf/fonts';
import { wrapText, textWidth } from '../../server/pdf/line-break';
import { inkPixels, pdfFonts, pdfText, renderPage } from '../support/pdf';

const FIRM = '暁社会保険労務士事務所';
const TITLE = '特定個人情報 取扱状況報告書';
const FAMILY = ['山田', '佐藤', '鈴木', '高橋', '田中', '伊藤', '渡辺', '中村', '小林', '加藤'];
const GIVEN = ['太郎', '花子', '一郎', '美咲', '健太', '陽菜', '翔太', '結衣', '大輔', 'さくら', '蓮', '葵', '湊', '凛', '悠真', '芽依', '樹', '紬', '颯太', '澪'];
/** Row i (1-based) has a name no other row has: 10 family names × 20 given names. */
const personName = (i: number) => `${FAMILY[i % 10]} ${GIVEN[Math.floor(i / 10) % 20]}`;
const masked = (i: number) => `**********${String(i % 100).padStart(2, '0')}`;

async function reportWithTable(rows: number): Promise<{ bytes: Uint8Array; pages: number }> {
  const doc = await ReportDocument.create({ title: TITLE, firmName: FIRM, footerNote: '作成日 令和8年11月23日' });
  doc.title(`${TITLE}（2026年10月分）`);
  doc.keyValues([['顧問先', 'C001 株式会社あかつき商事'], ['対象期間', '2026年10月1日 〜 2026年10月31日']]);
  doc.heading('日別アクセス件数');
  doc.barChart({ caption: '閲覧・出力の件数（日別）', data: Array.from({ length: 31 }, (_, i) => ({ label: String(i + 1), value: (i * 7) % 23 })) });
  doc.heading('従業員一覧（マスク表示）');
  doc.table({
    columns: [{ header: 'No.', width: 0.6, align: 'right' }, { header: '氏名', width: 2 }, { header: '個人番号', width: 2 }, { header: '備考', width: 3, overflow: 'clip' }],
    rows: Array.from({ length: rows }, (_, k) => [k + 1, personName(k + 1), masked(k + 1), k % 50 === 0 ? '扶養家族あり。本人確認済み、管理者確認済み、提出先は年金事務所および市区町村です。' : '']),
  });
  doc.heading('監査ログの先頭');
  doc.paragraph('8f3a9c0d2e4b6f1a7c5d3e9b0a2f4c6e8d1b3a5c7e9f0d2b4a6c8e0f1a3b5c7d', { mono: true });
  const bytes = await doc.finish();
  return { bytes, pages: doc.pageCount };
}

describe('PDF documents: Japanese text that survives', () => {
  let report: { bytes: Uint8Array; pages: number };
  before(async () => { report = await reportWithTable(200); });

  it('keeps the title, the names and the masked numbers as text, with "page / pages" on every page', () => {
    expect(report.pages).to.be.at.least(3);
    const text = pdfText(report.bytes);
    expect(text).to.contain(`${TITLE}（2026年10月分）`);
    expect(text).to.contain(FIRM);
    expect(text).to.contain(personName(150));
    expect(text).to.contain(masked(118)).and.to.contain('**********18');
    expect(text).to.contain('従業員一覧（マスク表示）');
    // pdftotext drops the narrow spaces around the slash in a line this short (it guesses spaces
    // from gaps, and has no other gaps on that line to compare with).
    for (let page = 1; page <= report.pages; page++) {
      expect(pdfText(report.bytes, { first: page, last: page }), `page ${page}`).to.match(new RegExp(`(^|\\s)${page} ?/ ?${report.pages}(\\s|$)`));
    }
  });

  it('repeats the table header on every page the table runs onto', () => {
    const pagesWithRows = Array.from({ length: report.pages }, (_, i) => i + 1)
      .map((page) => pdfText(report.bytes, { first: page, last: page }))
      .filter((text) => text.includes('**********'));
    expect(pagesWithRows.length).to.be.at.least(3);
    for (const text of pagesWithRows) expect(text).to.contain('個人番号').and.to.contain('氏名');
  });

  it('cuts a long cell in a clipped column with …, and keeps a hash whole when copied', () => {
    const text = pdfText(report.bytes);
    expect(text).to.match(/扶養家族あり。[^\n]*…/);
    expect(text).to.not.contain('市区町村です。');
    expect(text).to.contain('8f3a9c0d2e4b6f1a7c5d3e9b0a2f4c6e8d1b3a5c7e9f0d2b4a6c8e0f1a3b5c7d');
  });

  it('draws the glyphs: page 1 has ink, and Japanese text adds ink that an empty page lacks', async () => {
    expect(inkPixels(renderPage(report.bytes, 1, 50))).to.be.greaterThan(3000);

    const make = async (body: string) => {
      const doc = await ReportDocument.create({ title: 'インク', firmName: FIRM });
      if (body) doc.paragraph(body, { size: 12 });
      return inkPixels(renderPage(await doc.finish(), 1, 50));
    };
    const empty = await make('');
    // 240 kanji and kana, no lines or boxes: only the glyphs themselves can add ink.
    const written = await make('個人番号は適切に管理され、閲覧の記録はすべて残ります。'.repeat(10));
    expect(written - empty).to.be.greaterThan(1500);
  });

  it('embeds Noto Sans JP as subsets with ABCDEF+ tags and stays small', () => {
    const fonts = pdfFonts(report.bytes);
    expect(fonts.map((f) => f.name.replace(/^[A-Z]{6}\+/, ''))).to.have.members(['NotoSansJP-Regular', 'NotoSansJP-Bold']);
    for (const f of fonts) {
      expect(f.name).to.match(/^[A-Z]{6}\+NotoSansJP-/);
      expect(f).to.include({ type: 'CID TrueType', encoding: 'Identity-H', embedded: true, subset: true, unicode: true });
    }
    expect(report.bytes.length).to.be.below(500 * 1024);
  });
});

describe('PDF documents: a character the font lacks', () => {
  it('is replaced by 〓, never left blank, and reported', async () => {
    const charset = await fontCharacterSet('regular');
    expect(charset.has('😀'.codePointAt(0)!)).to.equal(false);
    const seen: string[] = [];
    expect(replaceMissingCharacters('山田😀太郎', charset, (c) => seen.push(c))).to.equal(`山田${MISSING_MARK}太郎`);
    expect(seen).to.deep.equal(['😀']);
    // Variation selectors and zero-width characters modify their neighbour: dropped, not marked.
    expect(replaceMissingCharacters('葛\u{E0100}城\u200B市', charset)).to.equal('葛城市');

    const doc = await ReportDocument.create({ title: '置換', firmName: FIRM });
    doc.paragraph('氏名：山田😀太郎');
    doc.table({ columns: [{ header: '氏名', width: 1 }], rows: [['髙橋🐱花子']] });
    const text = pdfText(await doc.finish());
    expect(text).to.contain(`山田${MISSING_MARK}太郎`).and.to.contain(`髙橋${MISSING_MARK}花子`);
    expect(text).to.not.contain('😀');
    expect([...doc.missingCharacters]).to.have.members(['😀', '🐱']);
  });
});

describe('PDF documents: Japanese line breaking', () => {
  // Every character one unit wide, ASCII half: easy to reason about.
  const width = (ch: string) => (ch.charCodeAt(0) < 0x80 ? 0.5 : 1);

  it('never starts a line with 。、」 or small kana, nor ends one with 「', () => {
    const text = '本報告書は、当事務所が貴社からお預かりしている「特定個人情報」の取扱状況を、ご報告するものです。ちょっと待って。';
    for (const max of [5, 6, 7, 8, 9, 10, 13]) {
      const lines = wrapText(text, max, width);
      expect(lines.join('')).to.equal(text);
      for (const line of lines) {
        expect(textWidth(line, width), `${max}: ${line}`).to.be.at.most(max);
        expect(line, `${max}`).to.not.match(/^[、。」ょっ]/u);
        expect(line, `${max}`).to.not.match(/「$/u);
      }
    }
  });

  it('keeps a masked number or code whole, and breaks a run longer than the line anywhere', () => {
    const lines = wrapText('個人番号 **********18 を照合しました', 9, width);
    expect(lines.some((l) => l.includes('**********18'))).to.equal(true);
    const hash = 'ab'.repeat(20);
    const broken = wrapText(hash, 6, width);
    expect(broken.join('')).to.equal(hash);
    expect(broken.every((l) => textWidth(l, width) <= 6)).to.equal(true);
  });
});

describe('PDF documents: speed of a 10,000-row table', () => {
  it('builds it (time logged for the README, not asserted)', async () => {
    const started = performance.now();
    const doc = await ReportDocument.create({ title: 'アクセスログ', firmName: FIRM });
    doc.table({
      columns: [{ header: 'No.', width: 0.7, align: 'right' }, { header: '日時', width: 2 }, { header: '操作者', width: 1.6 }, { header: '対象者', width: 2 }, { header: '操作', width: 2 }],
      rows: (function* () {
        for (let i = 1; i <= 10_000; i++) yield [i, '2026-10-01 09:15', '暁 事務員', `${personName(i)}（${masked(i)}）`, '閲覧（源泉徴収票・税務署）'];
      })(),
    });
    const laidOut = performance.now();
    const bytes = await doc.finish();
    const done = performance.now();
    console.log(`      10,000 rows: ${doc.pageCount} pages, ${(bytes.length / 1024).toFixed(0)} KiB; layout ${(laidOut - started).toFixed(0)} ms + finish ${(done - laidOut).toFixed(0)} ms = ${(done - started).toFixed(0)} ms`);
    expect(doc.pageCount).to.be.greaterThan(150);
    const last = pdfText(bytes, { first: doc.pageCount, last: doc.pageCount });
    expect(last).to.contain('10000').and.to.match(new RegExp(`${doc.pageCount} ?/ ?${doc.pageCount}`));
  });
});
