import { expect } from 'chai';
import { GENESIS_HASH, rowHash, type ChainedFields } from '../../../server/audit/chain';

const base: ChainedFields = {
  seq: 1, at: new Date('2026-11-23T01:02:03.456Z'), actorId: 'u1', actorName: '暁 太郎', actorRole: 'firm_staff', clientId: 'c1',
  targetKind: 'user', targetId: 't1', targetLabel: '山田 花子', operation: 'auth.login', channel: 'web:/login', ip: '127.0.0.1',
  userAgent: 'test', purpose: null, office: null, result: 'allowed', detail: null, prevHash: GENESIS_HASH,
};

describe('audit/chain: row hashes', () => {
  it('is a stable SHA-256 hex digest of the row', () => {
    expect(rowHash(base)).to.match(/^[0-9a-f]{64}$/);
    expect(rowHash({ ...base })).to.equal(rowHash(base));
  });

  it('changes when any field or the previous hash changes', () => {
    const h = rowHash(base);
    const changes: Partial<ChainedFields>[] = [
      { seq: 2 }, { at: new Date('2026-11-23T01:02:03.457Z') }, { actorId: 'u2' }, { actorName: '暁 次郎' }, { actorRole: 'firm_admin' },
      { clientId: 'c2' }, { targetKind: 'client' }, { targetId: 't2' }, { targetLabel: '山田 花' }, { operation: 'auth.logout' },
      { channel: 'web:/x' }, { ip: '127.0.0.2' }, { userAgent: 'other' }, { purpose: '源泉徴収票' }, { office: '税務署' },
      { result: 'denied' }, { detail: 'x' }, { prevHash: '1'.repeat(64) },
    ];
    for (const c of changes) expect(rowHash({ ...base, ...c }), JSON.stringify(c)).to.not.equal(h);
  });

  it('tells null from an empty string', () => {
    expect(rowHash({ ...base, detail: '' })).to.not.equal(rowHash({ ...base, detail: null }));
  });
});
