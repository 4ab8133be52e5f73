import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { looksLikeMyNumber } from '../../../server/vault/csv-input';

describe('vault/csv-input: what looks like a My Number in an import cell', () => {
  it('finds 12 digits as one run, in groups of four (spaces, hyphens, full-width), inside other text', () => {
    for (const v of ['123456789018', '1234 5678 9018', '1234-5678-9018', '１２３４５６７８９０１８', '番号123456789018です', 'x 1234 5678 9018 y']) {
      expect(looksLikeMyNumber(v), v).to.equal(true);
    }
  });

  it('leaves codes, dates, phone-like runs and hex ids alone (a UUID\'s groups are not joined into digits)', () => {
    for (const v of ['E001', '2020/04/01', '03-1234-5678', '12345678901', 'A1234567890123', '山田 太郎', 'ee4a4841-3cf0-4e23-9926-3f1270212345']) {
      expect(looksLikeMyNumber(v), v).to.equal(false);
    }
    // Many random UUIDs, and ones whose groups are all digits: none mistaken for a number.
    const mistaken = [...Array.from({ length: 5000 }, () => randomUUID()), '12345678-1234-4234-8234-123456789012'].filter((u) => looksLikeMyNumber(u));
    expect(mistaken).to.deep.equal([]);
  });
});
