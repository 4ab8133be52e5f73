import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { PORTAL_NODE_FLAGS } from '../../scripts/load/proc';

describe('npm start and the benches run the portal with the same V8 flags', () => {
  it("package.json's start script carries every flag the load, soak and file benches give the portal", () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { scripts: Record<string, string> };
    const start = pkg.scripts.start!.split(/\s+/);
    expect(PORTAL_NODE_FLAGS).to.not.be.empty;
    for (const flag of PORTAL_NODE_FLAGS) expect(start, flag).to.include(flag);
    expect(start.indexOf('server/main.ts')).to.be.greaterThan(Math.max(...PORTAL_NODE_FLAGS.map((f) => start.indexOf(f))));
  });
});
