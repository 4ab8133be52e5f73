import type { QueryInterface } from 'sequelize';

export async function up(qi: QueryInterface): Promise<void> {
  // A sent mail's text is of no more use, and an invitation's holds a working link: bodies of mails
  // already sent go. Those still waiting stay as they are (sent as queued, emptied once sent).
  await qi.sequelize.query("UPDATE mail_outbox SET body = '' WHERE sent_at IS NOT NULL");
}

export async function down(): Promise<void> {
  // Nothing to restore: the emptied texts are gone.
}
