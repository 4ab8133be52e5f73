import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { ConfigError, loadConfig } from '../../server/config';

describe('config: settings from the environment', () => {
  it('has embedded defaults: port 3000, everything under data/', () => {
    const c = loadConfig({}, '/srv/portal');
    expect(c.port).to.equal(3000);
    expect(c.dataDir).to.equal('/srv/portal/data');
    expect(c.sqliteFile).to.equal(path.join('/srv/portal/data', 'portal.sqlite'));
    expect(c.masterKeyFile).to.equal(path.join('/srv/portal/data', 'master.key'));
    expect(c.masterKeyIsEmbedded).to.equal(true);
    expect(c.outboxDir).to.equal(path.join('/srv/portal/data', 'outbox'));
    expect(c.databaseUrl).to.equal(null);
    expect(c.sessionIdleMinutes).to.equal(30);
    expect(c.sessionAbsoluteHours).to.equal(12);
    expect(c.reauthMinutes).to.equal(5);
    expect(c.publicUrl).to.equal('http://localhost:3000');
  });

  it('one DATA_DIR gives a separate instance; MASTER_KEY_FILE turns off key generation', () => {
    const c = loadConfig({ DATA_DIR: 'other', MASTER_KEY_FILE: '/keys/k' }, '/srv');
    expect(c.dataDir).to.equal('/srv/other');
    expect(c.masterKeyFile).to.equal('/keys/k');
    expect(c.masterKeyIsEmbedded).to.equal(false);
  });

  it('names every problem at once, one line each', () => {
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'postgres://x/y', REAUTH_MINUTES: '0', TRUST_PROXY: 'maybe' });
      expect.fail('should have thrown');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      const problems = (err as ConfigError).problems;
      expect(problems).to.have.length(4);
      expect(problems.join('\n')).to.match(/PORT/).and.match(/DATABASE_URL/).and.match(/REAUTH_MINUTES/).and.match(/TRUST_PROXY/);
    }
  });

  it('.env.example, copied as it is, is a valid configuration', () => {
    const example = dotenv.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../.env.example')));
    expect(Object.keys(example).length).to.be.greaterThan(10);
    expect(() => loadConfig(example, '/srv/portal')).to.not.throw();
  });

  it('sweeps leftovers only once they are older than the longest upload (0: at once, for tests)', () => {
    expect(loadConfig({}, '/srv/portal').sweepAfterMinutes).to.equal(150);
    expect(loadConfig({ SWEEP_AFTER_MINUTES: '0' }, '/srv/portal').sweepAfterMinutes).to.equal(0);
    expect(loadConfig({ SWEEP_AFTER_MINUTES: '121' }, '/srv/portal').sweepAfterMinutes).to.equal(121);
    for (const v of ['60', '120']) {
      const err = (() => { try { loadConfig({ SWEEP_AFTER_MINUTES: v }, '/srv/portal'); return null; } catch (e) { return e; } })();
      expect(err, v).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).problems.join('\n')).to.match(/^SWEEP_AFTER_MINUTES: .*more than 120/);
    }
  });

  it('accepts a MySQL/MariaDB URL and treats empty variables as unset', () => {
    const c = loadConfig({ DATABASE_URL: 'mysql://root@127.0.0.1:3306/test', SMTP_URL: '', PORT: '8080' });
    expect(c.databaseUrl).to.equal('mysql://root@127.0.0.1:3306/test');
    expect(c.smtpUrl).to.equal(null);
    expect(c.port).to.equal(8080);
  });
});

describe('config: https needs a trusted proxy', () => {
  it('refuses an https PUBLIC_URL without TRUST_PROXY, with one clear line', () => {
    expect(() => loadConfig({ PUBLIC_URL: 'https://portal.example.jp' })).to.throw(ConfigError, /TRUST_PROXY/);
    expect(loadConfig({ PUBLIC_URL: 'https://portal.example.jp', TRUST_PROXY: 'true' }).publicUrl).to.equal('https://portal.example.jp');
  });
});
