import { Op } from 'sequelize';
import { Client, Firm, User, type StoredFile } from '../db/models';

/**
 * For an employee: who sent each file addressed to them, the firm or their own company, by name.
 * Such a file's addressee is the employee themselves, so naming it (as the other sides' lists do)
 * tells them nothing; the sender does. Empty for everyone else, and for files the employee sent.
 * A name that cannot be read (no firm row yet) is left '' for the page to say 事務所 / 会社.
 */
export async function sendersForEmployee(viewer: Pick<User, 'role' | 'clientId'>, files: StoredFile[]): Promise<Map<string, { side: 'firm' | 'company'; name: string }>> {
  const out = new Map<string, { side: 'firm' | 'company'; name: string }>();
  const addressed = files.filter((f) => f.direction === 'to_employee');
  if (viewer.role !== 'employee' || !viewer.clientId || addressed.length === 0) return out;
  const senderIds = [...new Set(addressed.map((f) => f.senderId))];
  const companySenders = new Set((await User.findAll({ where: { id: { [Op.in]: senderIds }, role: 'client_admin' }, attributes: ['id'] })).map((u) => u.id));
  const needsFirm = addressed.some((f) => !companySenders.has(f.senderId));
  const firm = needsFirm ? (await Firm.findByPk(1, { attributes: ['name'] }))?.name ?? '' : '';
  const company = companySenders.size ? (await Client.findByPk(viewer.clientId, { attributes: ['name'] }))?.name ?? '' : '';
  // Only the firm's members and the company's admins send one employee a file (upload-target.ts).
  for (const f of addressed) out.set(f.id, companySenders.has(f.senderId) ? { side: 'company', name: company } : { side: 'firm', name: firm });
  return out;
}
