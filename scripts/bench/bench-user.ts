import http from 'node:http';
import type { Booted } from '../../server/boot';
import { hashPassword } from '../../server/auth/passwords';
import { systemContext } from '../../server/audit';
import { User } from '../../server/db/models';

/** A client admin (no TOTP) in a fresh bench instance, and a way to sign in over HTTP like a browser. */
export async function makeBenchUser(booted: Booted, agent: http.Agent) {
  const client = await booted.services.clients.create(systemContext('bench'), { code: 'BENCH', name: 'ベンチ株式会社', nameKana: null, requireAdminTotp: false });
  const password = 'bench password 123';
  await User.create({
    email: 'bench@example.jp', name: 'ベンチ', role: 'client_admin', clientId: client.id, passwordHash: await hashPassword(password),
    passwordChangedAt: new Date(), totpSecretSealed: null, totpEnabledAt: null, totpLastStep: null, disabledAt: null, lang: null,
  });
  return {
    async login(port: number) {
      let cookie = '';
      const call = (method: string, path: string, body?: string) => new Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
        const req = http.request({ agent, host: '127.0.0.1', port, path, method, headers: {
          ...(cookie ? { Cookie: cookie } : {}), ...(body ? { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) } : {}),
        } }, (res) => {
          const set = res.headers['set-cookie']?.find((c) => c.startsWith('akatsuki.sid='));
          if (set) cookie = set.split(';')[0]!;
          let text = '';
          res.on('data', (d: Buffer) => { text += d.toString(); });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
        });
        req.on('error', reject);
        req.end(body);
      });
      const token = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
      const loginPage = await call('GET', '/login');
      const done = await call('POST', '/login', new URLSearchParams({ _csrf: token(loginPage.text), email: 'bench@example.jp', password }).toString());
      if (done.status !== 303) throw new Error(`bench sign-in failed: ${done.status}`);
      const filesPage = await call('GET', '/files');
      return {
        headers: { Cookie: cookie, 'X-CSRF-Token': token(filesPage.text) },
        cookieOnly: { Cookie: cookie },
        async latestFileId() {
          const list = await call('GET', '/files?box=sent');
          const id = /href="\/files\/([0-9a-f-]{36})"/.exec(list.text)?.[1];
          if (!id) throw new Error('uploaded file not listed');
          return id;
        },
      };
    },
  };
}
