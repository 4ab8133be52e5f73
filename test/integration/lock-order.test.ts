import { Readable } from 'node:stream';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createHarness, dialectName, type Harness } from '../support/harness';
import { makeClient, makeUser, type MadeUser } from '../support/factories';
import { systemContext } from '../../server/audit';
import { findPerson } from '../../server/vault/people';
import { importPeople } from '../../server/vault/people-import';
import { StoredFile, User, type Client } from '../../server/db/models';
import type { UploadTarget } from '../../server/files/upload-target';
import type { EncryptedUpload } from '../../server/files/upload-engine';
import { numberFrom as validNumber } from '../support/vault';

/** Rounds of each pair: on MariaDB each of these pairs deadlocked in most rounds before every audited transaction took the log's head first. */
const ROUNDS = 8;

/**
 * Pairs of everyday actions on one client at the same moment, as two people (or a person and a
 * nightly job) do them. On MySQL a row added under the log's head takes a shared lock on the row it
 * refers to; a transaction that locked that row first and the head after deadlocked against it.
 * (On SQLite writes take turns anyway; the pairs run there too.)
 */
describe(`Lock order (${dialectName}): actions on one client at the same moment all go through`, function () {
  this.timeout(120_000);
  let h: Harness;
  let client: Client;
  let admin: MadeUser;
  let firm: MadeUser;
  const ctx = systemContext('test');

  before(async () => {
    h = await createHarness();
    client = await makeClient(h, { code: 'LOCK', name: '株式会社同時' });
    admin = await makeUser(h, { role: 'client_admin', clientId: client.id, totp: false });
    firm = await makeUser(h, { role: 'firm_admin', totp: false });
  });
  after(async () => { await h.close(); });

  /** A file's rows as the upload engine leaves them (the object itself is not needed for the rows' locks). */
  const upload = (): EncryptedUpload => {
    const fileId = randomUUID();
    return { fileId, objectId: `lock-${fileId}`, displayName: 'a.pdf', contentType: 'application/pdf', size: 1, sha256: '0'.repeat(64), keyVersion: 1, wrappedKey: 'x' } as EncryptedUpload;
  };
  const toClient: () => UploadTarget = () => ({ direction: 'to_client', clientId: client.id, employeeId: null, category: 'other', comment: null, containsMyNumber: false });
  const sendToClient = async () => {
    const u = upload();
    await h.booted.services.files.commitUpload(ctx, firm.user, toClient(), [u]);
    // An object to open (never decrypted: the stream is dropped), so that the reader's receipt is written.
    await h.booted.services.storage.write(u.objectId, Readable.from([Buffer.from('x')]));
    return (await StoredFile.findByPk(u.fileId))!;
  };
  /**
   * A first download's rows (its log row, the reader's receipt). A file deleted first is gone: "not
   * found" is the answer then, not a failure of the pair.
   */
  const open = (user: MadeUser, f: StoredFile) => h.booted.services.files.open(ctx, user.user, f, null)
    .then((stream) => { stream.destroy(); }, (e: Error) => { if (!/not ?found/i.test(`${e.name} ${e.message}`)) throw e; });
  const saveSettings = (i: number) => h.booted.services.clients.update(ctx, client, { name: `株式会社同時${i}`, nameKana: null, requireAdminTotp: false });

  /** Runs each round's pair at once; every action of every round must succeed. */
  async function together(name: string, pair: (i: number) => Promise<[Promise<unknown>, Promise<unknown>]>): Promise<void> {
    const failures: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      for (const r of await Promise.allSettled(await pair(i))) {
        if (r.status === 'rejected') failures.push((r.reason as Error).message.slice(0, 80));
      }
    }
    expect(failures, name).to.deep.equal([]);
  }

  it('a file sent, or a payee added, while the client\'s settings are saved', async () => {
    const s = h.booted.services;
    await together('upload vs settings', async (i) => [s.files.commitUpload(ctx, admin.user, { ...toClient(), direction: 'to_firm' }, [upload()]), saveSettings(i)]);
    await together('payee vs settings', async (i) => [s.people.addPayee(ctx, client.id, { code: `LP${i}`, name: '同時 支払先', nameKana: null, kind: 'lecturer' }), saveSettings(i)]);
  });

  it('an employee import while the same employee is edited', async () => {
    const s = h.booted.services;
    const emp = await s.people.addEmployee(ctx, client.id, { employeeCode: 'L1', name: '同時 太郎', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null });
    await together('import vs edit', async (i) => [
      importPeople(s, ctx, client.id, Buffer.from(`社員コード,氏名,扶養家族名,続柄\r\nL1,同時 太郎,子${i},子\r\n`)),
      s.people.updateEmployee(ctx, client.id, emp.id, { employeeCode: 'L1', name: '同時 太郎', nameKana: i % 2 ? 'ドウジ タロウ' : null, departmentId: null, establishmentId: null, hireDate: null }),
    ]);
  });

  it('a file deleted by its sender, or its reader disabled, just as it is first opened', async () => {
    const s = h.booted.services;
    await together('delete vs open', async () => {
      const f = await sendToClient();
      return [s.files.delete(ctx, firm.user, f), open(admin, f)];
    });
    await together('disable vs open', async (i) => {
      const f = await sendToClient();
      return [s.accounts.setDisabled(ctx, admin.user, i % 2 === 0), open(admin, f)];
    });
    await s.accounts.setDisabled(ctx, admin.user, false);
  });

  it('a number confirmed by the admin while the person registers it again; two one-time links made at once', async () => {
    const s = h.booted.services;
    const emp = await s.people.addEmployee(ctx, client.id, { employeeCode: 'L2', name: '同時 花子', nameKana: null, departmentId: null, establishmentId: null, hireDate: null, leaveDate: null });
    const person = await findPerson(client.id, 'employee', emp.id);
    const number = validNumber(13572468000);
    await s.vault.register(ctx, person, { number, issueDate: null }, { source: 'proxy', registeredBy: admin.user.id });
    await together('confirm vs register', async () => {
      const rec = (await s.vault.recordOf(person))!;
      return [s.vault.confirm(ctx, client.id, rec.id, 'admin'), s.vault.register(ctx, person, { number, issueDate: null }, { source: 'self', confirmedByPerson: true, registeredBy: null })];
    });
    await together('two links', async (i) => {
      const fresh = await makeClient(h, { code: `LK${i}`, name: `株式会社リンク${i}` });
      const [a, b] = await Promise.all(['P1', 'P2'].map((code) => s.people.addPayee(ctx, fresh.id, { code, name: '支払先', nameKana: null, kind: 'lecturer' })));
      return [
        s.vaultLinks.create(ctx, await findPerson(fresh.id, 'payee', a!.id), admin.user.id, null),
        s.vaultLinks.create(ctx, await findPerson(fresh.id, 'payee', b!.id), admin.user.id, null),
      ];
    });
  });

  it('a mail server that hangs while someone is invited holds up nobody else\'s audited work', async () => {
    const s = h.booted.services;
    h.smtp.stalling = true;
    let settled = false;
    const invite = s.staff.create(ctx, { email: 'hung.invite@example.jp', name: '待機 職員', role: 'firm_staff' }).then(() => null, (err: Error) => err).finally(() => { settled = true; });
    try {
      // The server has the invite and keeps silent.
      while (h.smtp.heldCount < 1) await new Promise((r) => setTimeout(r, 20));
      // Meanwhile another audited action goes through, while the invite still waits on the mail server.
      await s.people.addPayee(ctx, client.id, { code: 'HUNG', name: '待たない 支払先', nameKana: null, kind: 'lecturer' });
      await saveSettings(99);
      expect(settled, 'the invite was still waiting on the mail server').to.equal(false);
    } finally {
      h.smtp.release();
    }
    // The server at last refuses it: the invite is all or nothing, so no one was added.
    expect((await invite)?.message).to.equal('error.mailUnavailable');
    expect(await User.count({ where: { email: 'hung.invite@example.jp' } })).to.equal(0);
  });
});
