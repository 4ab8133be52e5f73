import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from '../config';
import { MailUnavailable } from '../errors';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
}

/**
 * SMTP when SMTP_URL is set; otherwise each message is written as an .eml file to the outbox
 * folder, so a fresh install needs no mail server. Mails never carry personal data beyond a name.
 */
export function createMailer(config: Pick<Config, 'smtpUrl' | 'smtpTimeoutSeconds' | 'mailFrom' | 'outboxDir'>): Mailer {
  if (config.smtpUrl) {
    // nodemailer waits up to 10 minutes on a silent server by default: longer than the outbox's claim
    // on a mail, after which another instance would send it again.
    const timeout = config.smtpTimeoutSeconds * 1000;
    const transport: Transporter = nodemailer.createTransport({ url: config.smtpUrl, connectionTimeout: timeout, greetingTimeout: timeout, socketTimeout: timeout });
    return {
      async send(mail) {
        try {
          await transport.sendMail({ from: config.mailFrom, ...mail });
        } catch {
          // The caller's transaction rolls back; the person is told to try again later.
          throw new MailUnavailable();
        }
      },
    };
  }
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(mail) {
      const info = await transport.sendMail({ from: config.mailFrom, ...mail });
      await fs.mkdir(config.outboxDir, { recursive: true });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`;
      const tmp = path.join(config.outboxDir, `.${name}.tmp`);
      await fs.writeFile(tmp, info.message as Buffer, { mode: 0o600 });
      await fs.rename(tmp, path.join(config.outboxDir, name));
    },
  };
}
