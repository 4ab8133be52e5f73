import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { catalogKeys, translate } from '../../server/i18n';

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
    for (const f of files(path.join(root, 'server'), '.ts')) {
      for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
        // Audit operation names are labelled under op.* (next test), not used as message keys.
        if (/operation:/.test(line)) continue;
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

  it('fills placeholders and falls back to the key when unknown', () => {
    expect(translate('ja', 'error.tooManyRequests', { seconds: 30 })).to.contain('30秒後');
    expect(translate('en', 'error.tooManyRequests', { seconds: 30 })).to.contain('30 seconds');
    expect(translate('ja', 'no.such.key')).to.equal('no.such.key');
  });
});
