import { expect } from 'chai';
import pino from 'pino';
import { createHarness, type Harness } from '../support/harness';
import { OutboxMail } from '../../server/db/models';
import { MailOutbox, backoffMs } from '../../server/mail/outbox';
import { createMailer } from '../../server/mail/mailer';

describe('Mail outbox: a notice that must arrive once, whatever the mail server does', () => {
  let h: Harness;
  let outbox: MailOutbox;

  before(async () => {
    h = await createHarness();
    outbox = new MailOutbox({ mailer: h.booted.services.mailer, logger: pino({ level: 'silent' }), ring: () => h.booted.services.keys.ring() });
  });
  after(async () => { await h.close(); });

  it('a server that takes a message and then never answers: the send gives up (SMTP_TIMEOUT_SECONDS) and the mail is released for a later try, not left claimed', async () => {
    const impatient = new MailOutbox({ mailer: createMailer({ ...h.config, smtpTimeoutSeconds: 1 }), logger: pino({ level: 'silent' }), ring: () => h.booted.services.keys.ring() });
    await impatient.enqueue({ dedupeKey: 'notice:hung', to: 'hung@example.jp', subject: 'hung server', text: 'link only' });
    h.smtp.stalling = true;
    try {
      const t0 = new Date();
      expect(await impatient.deliverDue(t0)).to.equal(0);
      expect(h.smtp.heldCount, 'the server read the message and kept silent').to.equal(1);
      const row = (await OutboxMail.findOne({ where: { dedupeKey: 'notice:hung' } }))!;
      expect([row.sentAt, row.lockedUntil, row.attempts, row.lastError]).to.deep.equal([null, null, 1, 'error.mailUnavailable']);
      expect(row.nextAt.getTime()).to.equal(t0.getTime() + backoffMs(1));
    } finally {
      h.smtp.release();
    }
    // The server answers again: the next try sends it, once.
    expect(await impatient.deliverDue(new Date(Date.now() + backoffMs(1)))).to.equal(1);
    expect(h.smtp.messages.filter((m) => m.subject === 'hung server')).to.have.length(1);
    await OutboxMail.destroy({ where: { dedupeKey: 'notice:hung' } });
  });

  it('a server that refuses, then accepts, yields exactly one message; retries back off', async () => {
    await outbox.enqueue({ dedupeKey: 'notice:1', to: 'hr@example.jp', subject: 'report ready', text: 'link only' });
    await outbox.enqueue({ dedupeKey: 'notice:1', to: 'hr@example.jp', subject: 'report ready', text: 'link only' });
    expect(await OutboxMail.count()).to.equal(1);

    h.smtp.refusing = true;
    const t0 = new Date();
    expect(await outbox.deliverDue(t0)).to.equal(0);
    expect(h.smtp.refused).to.equal(1);
    let row = (await OutboxMail.findOne())!;
    expect(row.attempts).to.equal(1);
    expect(row.sentAt).to.equal(null);
    expect(row.nextAt.getTime()).to.equal(t0.getTime() + backoffMs(1));
    expect(row.lastError).to.equal('error.mailUnavailable');

    // Not due yet: nothing is tried.
    expect(await outbox.deliverDue(new Date(t0.getTime() + 1000))).to.equal(0);
    expect(h.smtp.refused).to.equal(1);

    const t1 = new Date(t0.getTime() + backoffMs(1));
    expect(await outbox.deliverDue(t1)).to.equal(0);
    row = (await OutboxMail.findOne())!;
    expect(row.attempts).to.equal(2);
    expect(row.nextAt.getTime()).to.equal(t1.getTime() + backoffMs(2));

    h.smtp.refusing = false;
    const t2 = new Date(t1.getTime() + backoffMs(2));
    expect(await outbox.deliverDue(t2)).to.equal(1);
    expect(await outbox.deliverDue(new Date(t2.getTime() + 24 * 3600_000))).to.equal(0);
    expect(h.smtp.messages.filter((m) => m.subject === 'report ready')).to.have.length(1);
    row = (await OutboxMail.findOne())!;
    expect(row.sentAt).to.be.instanceOf(Date);
  });

  it('two instances delivering at once send a queued mail once', async () => {
    await outbox.enqueue({ dedupeKey: 'notice:2', to: 'hr2@example.jp', subject: 'twice?', text: 'x' });
    const other = new MailOutbox({ mailer: h.booted.services.mailer, logger: pino({ level: 'silent' }), ring: () => h.booted.services.keys.ring() });
    const now = new Date(Date.now() + 48 * 3600_000);
    const [a, b] = await Promise.all([outbox.deliverDue(now), other.deliverDue(now)]);
    expect(a + b).to.equal(1);
    expect(h.smtp.messages.filter((m) => m.subject === 'twice?')).to.have.length(1);
  });

  it('a mail the server took whose row could not then be marked sent (the database failed) is marked in the next round, never sent again', async () => {
    const sent: string[] = [];
    const mine = new MailOutbox({ mailer: { send: async (m) => { sent.push(m.subject); } }, logger: pino({ level: 'silent' }), ring: () => h.booted.services.keys.ring() });
    await mine.enqueue({ dedupeKey: 'notice:3', to: 'hr3@example.jp', subject: 'marked later', text: 'x' });
    const update = OutboxMail.update.bind(OutboxMail);
    let failed = 0;
    (OutboxMail as unknown as { update: unknown }).update = async (values: Record<string, unknown>, opts: unknown) => {
      if (values.sentAt && failed++ === 0) throw new Error('database unavailable');
      return update(values as never, opts as never);
    };
    try {
      const later = new Date(Date.now() + 72 * 3600_000);
      const first = await mine.deliverDue(later).then(() => null, (err: unknown) => err);
      expect(first).to.be.instanceOf(Error);
      expect((await OutboxMail.findOne({ where: { dedupeKey: 'notice:3' } }))!.sentAt).to.equal(null);
      // Later rounds, well past any back-off: the row is marked, the mail not sent again.
      await mine.deliverDue(new Date(later.getTime() + 3600_000));
      await mine.deliverDue(new Date(later.getTime() + 2 * 3600_000));
    } finally {
      (OutboxMail as unknown as { update: unknown }).update = update;
    }
    expect(sent.filter((x) => x === 'marked later')).to.have.length(1);
    expect((await OutboxMail.findOne({ where: { dedupeKey: 'notice:3' } }))!.sentAt).to.be.instanceOf(Date);
  });

  it('a queued text is kept sealed (an invitation\'s link cannot be read from the database), sent as written, and emptied once sent', async () => {
    const link = 'https://portal.test/password/set/Tok3nThatMustNotBeStoredInClear';
    const text = `山田 太郎 様\n次のリンクからパスワードを設定してください。\n${link}\n`;
    h.smtp.refusing = true;
    try {
      await outbox.enqueue({ dedupeKey: 'invite:sealed', to: 'new@example.jp', subject: 'invitation', text });
      expect(await outbox.deliverDue(new Date(Date.now() + 96 * 3600_000))).to.equal(0);
    } finally { h.smtp.refusing = false; }
    const row = (await OutboxMail.findOne({ where: { dedupeKey: 'invite:sealed' } }))!;
    expect(row.sentAt, 'the server refused: still queued').to.equal(null);
    const everyRow = JSON.stringify(await OutboxMail.findAll({ raw: true }));
    for (const clear of ['Tok3nThatMustNotBeStoredInClear', '/password/set/', '山田']) expect(everyRow).to.not.contain(clear);
    expect(row.body).to.match(/^sealed:/);

    expect(await outbox.deliverDue(new Date(Date.now() + 120 * 3600_000))).to.equal(1);
    const mail = h.smtp.messages.find((m) => m.subject === 'invitation')!;
    expect(mail.text).to.contain(link).and.contain('山田 太郎 様');
    const sent = (await OutboxMail.findOne({ where: { dedupeKey: 'invite:sealed' } }))!;
    expect(sent.sentAt).to.be.instanceOf(Date);
    expect(sent.body).to.equal('');
  });

  it('a text queued before texts were sealed (kept as written) is still sent, then emptied', async () => {
    await OutboxMail.create({
      dedupeKey: 'notice:legacy', toAddress: 'old@example.jp', subject: 'queued long ago', body: 'a link only: https://portal.test/files',
      nextAt: new Date(), lockedUntil: null, sentAt: null, lastError: null,
    });
    expect(await outbox.deliverDue(new Date(Date.now() + 144 * 3600_000))).to.equal(1);
    expect(h.smtp.messages.find((m) => m.subject === 'queued long ago')!.text).to.contain('https://portal.test/files');
    expect((await OutboxMail.findOne({ where: { dedupeKey: 'notice:legacy' } }))!.body).to.equal('');
  });

  it('back-off doubles from a minute up to an hour', () => {
    expect([1, 2, 3, 6, 7, 20].map(backoffMs)).to.deep.equal([60_000, 120_000, 240_000, 1_920_000, 3_600_000, 3_600_000]);
  });
});
