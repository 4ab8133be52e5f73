import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readMasterKey } from '../../../server/crypto/master-key';

describe('crypto/master-key: the key file', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'akatsuki-key-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('generates 256 random bits with mode 0600 when allowed, and reads them back', () => {
    const file = path.join(dir, 'sub', 'master.key');
    const first = readMasterKey(file, true);
    expect(first.kind).to.equal('ok');
    expect(first.kind === 'ok' && first.generated).to.equal(true);
    expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
    expect(fs.readFileSync(file, 'utf8').trim()).to.match(/^[0-9a-f]{64}$/);
    const again = readMasterKey(file, true);
    expect(again.kind === 'ok' && !again.generated).to.equal(true);
    if (first.kind === 'ok' && again.kind === 'ok') {
      expect(again.keyRing.matchesKeyCheckValue(first.keyRing.makeKeyCheckValue())).to.equal(true);
    }
  });

  it('never generates when not allowed; reports a missing or malformed file', () => {
    const file = path.join(dir, 'master.key');
    expect(readMasterKey(file, false).kind).to.equal('missing');
    expect(fs.existsSync(file)).to.equal(false);
    fs.writeFileSync(file, 'too short\n');
    expect(readMasterKey(file, true)).to.deep.equal({ kind: 'unreadable', reason: 'not 64 hex digits' });
  });
});
