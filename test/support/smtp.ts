import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';

/** A real SMTP server in-process: the portal sends over TCP, the test reads the parsed messages. */
export class TestSmtp {
  readonly messages: ParsedMail[] = [];
  /** While true, every message is refused with a temporary failure (451), as a struggling server would. */
  refusing = false;
  refused = 0;
  /** While true, a message's data is read and then never answered, as a hung server would (release() lets them go). */
  stalling = false;
  private held: (() => void)[] = [];
  private server: SMTPServer;
  port = 0;

  constructor() {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onMailFrom: (_address, _session, callback) => {
        if (!this.refusing) return callback();
        this.refused++;
        callback(Object.assign(new Error('Mail system busy, try again later'), { responseCode: 451 }));
      },
      onData: (stream, _session, callback) => {
        if (this.stalling) {
          stream.resume();
          stream.on('end', () => this.held.push(() => callback(Object.assign(new Error('Released unanswered'), { responseCode: 451 }))));
          return;
        }
        simpleParser(stream).then((mail) => { this.messages.push(mail); callback(); }, callback);
      },
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.server.address() as AddressInfo).port;
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Answers every held message with a refusal and stops holding new ones. */
  release(): void {
    this.stalling = false;
    for (const answer of this.held.splice(0)) answer();
  }

  /** Messages read but not answered yet. */
  get heldCount(): number {
    return this.held.length;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** The newest message to an address (waits briefly: sending is asynchronous). */
  async lastTo(address: string, timeoutMs = 3000): Promise<ParsedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = [...this.messages].reverse().find((m) => (m.to && !Array.isArray(m.to) ? m.to.text : '').includes(address));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no mail to ${address}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** The first portal link in a mail's text. */
export function linkIn(mail: ParsedMail): string {
  const m = /https?:\/\/\S+/.exec(mail.text ?? '');
  if (!m) throw new Error('no link in mail');
  return new URL(m[0]).pathname;
}
