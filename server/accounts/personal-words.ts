import type { Transaction } from 'sequelize';
import { Client, Employee, Firm, type User } from '../db/models';
import { personalWords } from '../auth/passwords';

/**
 * The words a person's password must not be built from: their address and name, their company's
 * name (the firm's for the firm's people), and the kana readings the portal keeps of the company
 * and, for an employee, of their own name (as romaji, see auth/romaji.ts).
 */
export async function personalWordsOf(user: Pick<User, 'id' | 'email' | 'name' | 'role' | 'clientId'>, tx?: Transaction): Promise<string[]> {
  const firm = user.role === 'firm_admin' || user.role === 'firm_staff';
  const [client, employee, firmRow] = await Promise.all([
    user.clientId ? Client.findByPk(user.clientId, { attributes: ['name', 'nameKana'], transaction: tx }) : null,
    user.role === 'employee' ? Employee.findOne({ where: { userId: user.id }, attributes: ['name', 'nameKana'], transaction: tx }) : null,
    firm ? Firm.findByPk(1, { attributes: ['name'], transaction: tx }) : null,
  ]);
  return personalWords(user.email, user.name, client?.name, client?.nameKana, employee?.name, employee?.nameKana, firmRow?.name);
}
