import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { catalogKeys, translate } from '../../server/i18n';
import { LOG_OPERATION_GROUPS, LOG_OPERATIONS } from '../../server/audit/operations';

function files(dir: string, ext: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name), ext) : e.name.endsWith(ext) ? [path.join(dir, e.name)] : []);
}

describe('i18n: every string in the locale files', () => {
  it('has the same keys in Japanese and English', () => {
    expect(catalogKeys('en').sort()).to.deep.equal(catalogKeys('ja').sort());
  });

  it('has every key the templates and the code name', () => {
    const known = new Set(catalogKeys('ja'));
    const root = path.resolve(import.meta.dirname, '../..');
    const used = new Set<string>();
    for (const f of files(path.join(root, 'views'), '.hbs')) {
      for (const m of fs.readFileSync(f, 'utf8').matchAll(/\bt "([\w.]+)"/g)) used.add(m[1]!);
    }
    // Audit operation names are labelled under op.* (next tests), not used as message keys.
    for (const f of files(path.join(root, 'server'), '.ts').filter((x) => !x.endsWith(path.join('audit', 'operations.ts')))) {
      for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
        if (/operation(:| ===)/.test(line)) continue;
        for (const m of line.matchAll(/'((?:error|auth|password|form|account|client|clients|department|assignment|users|totp|mail|home|setup)\.[\w.]+)'/g)) used.add(m[1]!);
      }
    }
    const missing = [...used].filter((k) => !known.has(k) && !known.has(`${k}.subject`));
    expect(missing).to.deep.equal([]);
  });

  it('has a label for every audit operation the code records', () => {
    const known = new Set(catalogKeys('ja'));
    const root = path.resolve(import.meta.dirname, '../..');
    const ops = new Set<string>();
    for (const f of files(path.join(root, 'server'), '.ts')) {
      for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
        const at = line.indexOf('operation:');
        if (at < 0) continue;
        for (const m of line.slice(at).matchAll(/'([a-z_]+(?:\.[a-z_]+)+)'/g)) ops.add(m[1]!);
      }
    }
    expect(ops.size).to.be.greaterThan(10);
    expect([...ops].filter((op) => !known.has(`op.${op}`))).to.deep.equal([]);
  });

  it('offers every labelled operation, once, in the access log\'s operation filter', () => {
    // With the test above: whatever the code records can be found by the filter.
    const labelled = catalogKeys('ja').filter((k) => k.startsWith('op.')).map((k) => k.slice(3)).sort();
    expect([...LOG_OPERATIONS].sort()).to.deep.equal(labelled);
    expect(new Set(LOG_OPERATIONS).size).to.equal(LOG_OPERATIONS.length);
    for (const g of LOG_OPERATION_GROUPS) expect(catalogKeys('ja')).to.include(`log.opGroup.${g.key}`);
  });

  it('fills placeholders and falls back to the key when unknown', () => {
    expect(translate('ja', 'error.tooManyRequests', { seconds: 30 })).to.contain('30秒後');
    expect(translate('en', 'error.tooManyRequests', { seconds: 30 })).to.contain('30 seconds');
    expect(translate('ja', 'no.such.key')).to.equal('no.such.key');
  });
});
