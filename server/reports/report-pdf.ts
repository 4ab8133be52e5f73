import type { ReportData } from './report-data';
import { periodLabel } from './periods';
import { translate, type Lang } from '../i18n';
import { formatDateTime } from '../presenters/format';
import { ReportDocument } from '../pdf/document';

const TOP = 15;
const CHANGE_KEYS = {
  from: 'report.pdf.assignedFrom', until: 'report.pdf.assignedUntil', disabled: 'report.pdf.accountDisabled', enabled: 'report.pdf.accountEnabled',
} as const;

/**
 * The 取扱状況報告書 as a PDF: header, every access in the period, totals (by date as a chart, by
 * person, operator and submission office), disposals, holdings at period end, who may access, and
 * the audit chain's head at the period's end. Numbers never appear; people are masked.
 */
export async function renderAccessReport(data: ReportData, firmName: string, lang: Lang = 'ja'): Promise<Uint8Array> {
  const t = (k: string, p: Record<string, unknown> = {}) => translate(lang, k, p);
  const period = periodLabel(data.period, lang);
  const doc = await ReportDocument.create({ title: t('report.pdf.title'), firmName, lang });
  doc.title(`${t('report.pdf.title')}（${period}）`);
  doc.keyValues([
    [t('report.pdf.client'), `${data.client.code} ${data.client.name}`],
    [t('report.pdf.period'), `${data.period.startDate} 〜 ${data.period.endDate}`],
    [t('report.pdf.firm'), firmName],
    [t('report.pdf.events'), String(data.rows.length)],
  ]);

  doc.heading(t('report.pdf.byDate'));
  const days = [...data.byDate.entries()].sort(([a], [b]) => a.localeCompare(b));
  if (days.length) doc.barChart({ data: days.map(([d, n]) => ({ label: d.slice(8), value: n })), caption: t('report.pdf.byDateCaption') });
  else doc.paragraph(t('report.pdf.noEvents'));

  const top = (m: Map<string, number>, label: (k: string) => string = (k) => k) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([k, n]) => [label(k), String(n)]);
  doc.heading(t('report.pdf.byOperator'));
  doc.table({ columns: [{ header: t('log.col.operator'), width: 4 }, { header: t('report.pdf.count'), width: 1 }], rows: top(data.byOperator) });
  doc.heading(t('report.pdf.byPerson'));
  doc.table({ columns: [{ header: t('log.col.person'), width: 4 }, { header: t('report.pdf.count'), width: 1 }], rows: top(data.byPerson) });
  doc.heading(t('report.pdf.byOffice'));
  doc.table({ columns: [{ header: t('log.col.office'), width: 4 }, { header: t('report.pdf.count'), width: 1 }], rows: top(data.byOffice, (k) => t(`office.${k}`)) });

  /** The listing's 対象: the person, or the file, certificate or disposal (whose data) the row was about. */
  const what = (r: ReportData['rows'][number]) => r.person || (r.target
    ? t(`report.pdf.target.${r.target.kind}${r.target.more ? 'More' : ''}`, { label: r.target.label, count: r.target.more ?? 0 }) : '');

  doc.heading(t('report.pdf.disposals'));
  if (data.disposals.length) {
    doc.table({ columns: [{ header: t('log.col.at'), width: 2 }, { header: t('report.pdf.target'), width: 3 }, { header: t('log.col.operation'), width: 2 }],
      rows: data.disposals.map((r) => [formatDateTime(r.at, lang), what(r), t(`op.${r.operation}`)]) });
  } else doc.paragraph(t('report.pdf.none'));

  doc.heading(t('report.pdf.holdings'));
  doc.table({ columns: [{ header: t('report.pdf.kind'), width: 4 }, { header: t('report.pdf.count'), width: 1 }], rows: [
    ...[...data.numbersByStatus.entries()].map(([s, n]) => [`${t('vault.col.number')}: ${t(`vault.status.${s}`)}`, String(n)]),
    ...[...data.filesByCategory.entries()].map(([c, n]) => [`${t('report.pdf.files')}: ${t(`files.category.${c}`)}`, String(n)]),
  ] });

  doc.heading(t('report.pdf.staff'));
  const changesOf = (s: ReportData['staff'][number]) => s.changes.length
    ? s.changes.map((c) => t(CHANGE_KEYS[c.kind], { at: formatDateTime(c.at, lang) })).join(lang === 'ja' ? '、' : '; ')
    : t('report.pdf.assignedThroughout');
  doc.table({ columns: [{ header: t('report.pdf.staffName'), width: 2.5 }, { header: t('report.pdf.mayReveal'), width: 2 }, { header: t('report.pdf.staffChanges'), width: 3 }],
    rows: data.staff.map((s) => [s.name, s.mayReveal ? t('report.pdf.yes') : t('report.pdf.no'), changesOf(s)]) });

  doc.heading(t('report.pdf.listing'));
  doc.table({
    columns: [
      { header: t('log.col.at'), width: 2.2 }, { header: t('log.col.operator'), width: 2 }, { header: t('report.pdf.target'), width: 2.6 },
      { header: t('log.col.operation'), width: 2 }, { header: t('log.col.purpose'), width: 2.4 }, { header: t('log.col.office'), width: 1.8 }, { header: t('log.col.result'), width: 1 },
    ],
    rows: data.rows.map((r) => [formatDateTime(r.at, lang), r.operator, what(r), t(`op.${r.operation}`), r.purpose ? t(`purpose.${r.purpose}`) : '', r.office ? t(`office.${r.office}`) : '', t(`log.result.${r.result}`)]),
    fontSize: 7,
  });

  doc.heading(t('report.pdf.chain'));
  doc.paragraph(t('report.pdf.chainText', { seq: data.head?.seq ?? 0 }));
  doc.paragraph(data.head?.hash ?? '—', { mono: true });
  return doc.finish();
}
