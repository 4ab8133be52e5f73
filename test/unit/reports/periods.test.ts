import { expect } from 'chai';
import { duePeriods, parsePeriod, periodContaining, periodLabel, previousPeriod } from '../../../server/reports/periods';

describe('Report periods (Japan time)', () => {
  it('a month, a quarter and a year start and end at midnight in Tokyo', () => {
    const m = parsePeriod('2026-10')!;
    expect([m.startDate, m.endDate]).to.deep.equal(['2026-10-01', '2026-10-31']);
    expect(m.start.toISOString()).to.equal('2026-09-30T15:00:00.000Z');
    expect(m.end.toISOString()).to.equal('2026-10-31T15:00:00.000Z');
    const q = parsePeriod('2026-Q4')!;
    expect([q.startDate, q.endDate, q.end.toISOString()]).to.deep.equal(['2026-10-01', '2026-12-31', '2026-12-31T15:00:00.000Z']);
    const y = parsePeriod('2028')!;
    expect([y.startDate, y.endDate]).to.deep.equal(['2028-01-01', '2028-12-31']);
    expect(parsePeriod('2026-02')!.endDate).to.equal('2026-02-28');
    expect(parsePeriod('2028-02')!.endDate).to.equal('2028-02-29');
    for (const bad of ['2026-13', '2026-Q5', '26-10', '2026-1', '']) expect(parsePeriod(bad), bad).to.equal(null);
  });

  it('the instant 2026-10-31T15:30Z is already November in Tokyo', () => {
    expect(periodContaining('monthly', new Date('2026-10-31T15:30:00Z')).key).to.equal('2026-11');
    expect(periodContaining('monthly', new Date('2026-10-31T14:59:59Z')).key).to.equal('2026-10');
    expect(periodContaining('quarterly', new Date('2026-10-01T00:00:00Z')).key).to.equal('2026-Q4');
    expect(previousPeriod(parsePeriod('2026-01')!).key).to.equal('2025-12');
    expect(previousPeriod(parsePeriod('2026-Q1')!).key).to.equal('2025-Q4');
  });

  it('due periods: the finished ones since the client began, newest first, at most the limit', () => {
    const now = new Date('2026-11-23T03:00:00Z');
    expect(duePeriods('monthly', now, new Date('2026-08-15T00:00:00Z')).map((p) => p.key)).to.deep.equal(['2026-10', '2026-09', '2026-08']);
    expect(duePeriods('monthly', now, new Date('2026-11-01T00:00:00Z'))).to.deep.equal([]);
    expect(duePeriods('quarterly', now, new Date('2026-01-01T00:00:00Z')).map((p) => p.key)).to.deep.equal(['2026-Q3', '2026-Q2', '2026-Q1']);
    expect(duePeriods('monthly', now, new Date('2000-01-01T00:00:00Z'), 12)).to.have.length(12);
  });

  it('labels as people say them', () => {
    expect(periodLabel(parsePeriod('2026-10')!, 'ja')).to.equal('2026年10月');
    expect(periodLabel(parsePeriod('2026-Q3')!, 'ja')).to.equal('2026年 第3四半期');
    expect(periodLabel(parsePeriod('2026-10')!, 'en')).to.equal('October 2026');
  });
});
