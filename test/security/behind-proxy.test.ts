import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import request from 'supertest';
import { createHarness, type Harness } from '../support/harness';
import { envFor, runScript, ROOT, TSX_NODE } from '../support/run-cli';
import { SESSION_COOKIE } from '../../server/web/middleware/session';

/**
 * The started portal (server/main.ts, not the in-process app the other security suites use) behind
 * a TLS-terminating proxy. headers.test.ts and sessions.test.ts check HSTS and the Secure cookie on
 * the app itself, and test/unit/config.test.ts the configuration rule; this checks the real process.
 */
describe('Security: the started portal behind a TLS proxy', function () {
  this.timeout(90_000);
  let h: Harness;
  let child: ChildProcess | undefined;
  let url = '';

  before(async () => { h = await createHarness(); });
  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child!.kill('SIGKILL'), 8000);
      await gone;
      clearTimeout(t);
    }
    await h.close();
  });

  it('refuses to start with an https PUBLIC_URL and TRUST_PROXY unset, naming TRUST_PROXY', async () => {
    const run = await runScript('server/main.ts', [], envFor(h, { PORT: '0', PUBLIC_URL: 'https://portal.example.jp' }), { timeoutMs: 40_000 });
    expect(run.code).to.equal(1);
    expect(run.stderr).to.contain('TRUST_PROXY');
    expect(run.stdout + run.stderr).to.not.match(/listening on/);
  });

  it('with TRUST_PROXY=true: X-Forwarded-Proto https gets a Secure session cookie and HSTS; plain http gets no session cookie', async () => {
    const env = envFor(h, { PORT: '0', PUBLIC_URL: 'https://portal.example.jp', TRUST_PROXY: 'true', LOG_LEVEL: 'info' });
    child = spawn(TSX_NODE[0], [...TSX_NODE.slice(1), 'server/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`not listening in time:\n${out}`)), 60_000);
      const onData = (d: Buffer) => {
        out += d.toString();
        const m = /listening on http:\/\/[^:\s]+:(\d+)/.exec(out);
        if (m) { clearTimeout(timer); resolve(`http://127.0.0.1:${m[1]}`); }
      };
      child!.stdout!.on('data', onData);
      child!.stderr!.on('data', onData);
      child!.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}:\n${out}`)); });
    });

    const tls = await request(url).get('/login').set('X-Forwarded-Proto', 'https').set('X-Forwarded-For', '203.0.113.7');
    expect(tls.status).to.equal(200);
    const line = ((tls.headers['set-cookie'] as unknown as string[] | undefined) ?? []).find((l) => l.startsWith(`${SESSION_COOKIE}=`));
    expect(line, 'a session cookie').to.be.a('string');
    const attrs = line!.split(';').slice(1).map((a) => a.trim().toLowerCase());
    expect(attrs).to.include.members(['secure', 'httponly', 'samesite=lax', 'path=/']);
    const hsts = String(tls.headers['strict-transport-security'] ?? '');
    expect(Number(/max-age=(\d+)/.exec(hsts)?.[1] ?? 0)).to.be.at.least(365 * 24 * 3600);
    expect(hsts).to.contain('includeSubDomains');
    expect(String(tls.headers['content-security-policy'])).to.contain('upgrade-insecure-requests');

    // A request that did not come through TLS (no X-Forwarded-Proto): the Secure cookie is not handed out at all.
    const plain = await request(url).get('/login');
    expect(plain.status).to.equal(200);
    expect(((plain.headers['set-cookie'] as unknown as string[] | undefined) ?? []).some((l) => l.startsWith(`${SESSION_COOKIE}=`))).to.equal(false);
  });
});
