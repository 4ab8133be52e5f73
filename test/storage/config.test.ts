import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../server/config';
import { createStorage } from '../../storage-adapters';

const S3_ENV = {
  STORAGE: 's3',
  S3_ENDPOINT: 'https://s3.example.jp',
  S3_BUCKET: 'akatsuki-files',
  S3_ACCESS_KEY_ID: 'AKIAEXAMPLE',
  S3_SECRET_ACCESS_KEY: 'c2VjcmV0L3NlY3JldCtzZWNyZXQ=',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env, '/srv/portal');
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return expect.fail('expected a ConfigError');
}

describe('config: storage settings', () => {
  it('defaults to local storage under DATA_DIR/storage', () => {
    const c = loadConfig({}, '/srv/portal');
    expect(c.storage).to.deep.equal({ kind: 'local' });
    expect(c.storageDir).to.equal('/srv/portal/data/storage');
    expect(createStorage(c).kind).to.equal('local');
  });

  it('STORAGE=s3 reads the S3 settings; region defaults to us-east-1; the prefix loses its outer slashes', () => {
    const c = loadConfig({ ...S3_ENV, S3_PREFIX: '/akatsuki/prod/' }, '/srv/portal');
    expect(c.storage).to.deep.equal({
      kind: 's3',
      endpoint: 'https://s3.example.jp',
      region: 'us-east-1',
      bucket: 'akatsuki-files',
      accessKeyId: 'AKIAEXAMPLE',
      secretAccessKey: 'c2VjcmV0L3NlY3JldCtzZWNyZXQ=',
      prefix: 'akatsuki/prod',
    });
    expect(createStorage(c).kind).to.equal('s3');
    const other = loadConfig({ ...S3_ENV, S3_REGION: 'ap-northeast-1', S3_PREFIX: '' }, '/srv/portal');
    expect(other.storage).to.include({ region: 'ap-northeast-1', prefix: '' });
  });

  it('STORAGE=s3 without its settings: one clear line per missing one', () => {
    const problems = problemsOf({ STORAGE: 's3' });
    expect(problems).to.have.length(4);
    for (const name of ['S3_ENDPOINT', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']) {
      expect(problems.filter((p) => p.startsWith(`${name}:`)), name).to.have.length(1);
      expect(problems.find((p) => p.startsWith(`${name}:`))).to.contain('required when STORAGE=s3');
    }
  });

  it('the S3 settings are only required with STORAGE=s3', () => {
    expect(loadConfig({ STORAGE: 'local', S3_BUCKET: 'unused-bucket' }).storage).to.deep.equal({ kind: 'local' });
  });

  it('names bad values together with missing ones, never echoing the secret', () => {
    const problems = problemsOf({
      STORAGE: 's3', S3_ENDPOINT: 'ftp://s3.example.jp', S3_BUCKET: 'No_Such Bucket', S3_SECRET_ACCESS_KEY: 'two words', PORT: 'eighty',
    });
    const text = problems.join('\n');
    expect(text).to.match(/S3_ENDPOINT/).and.match(/S3_BUCKET/).and.match(/S3_ACCESS_KEY_ID: required/).and.match(/S3_SECRET_ACCESS_KEY/).and.match(/PORT/);
    expect(text).to.not.contain('two words');
    expect(problemsOf({ STORAGE: 'minio' }).join('\n')).to.match(/STORAGE: local or s3/);
    expect(problemsOf({ ...S3_ENV, S3_PREFIX: 'a/../b' }).join('\n')).to.match(/S3_PREFIX/);
  });
});
