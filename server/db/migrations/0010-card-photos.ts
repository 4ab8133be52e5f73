import { DataTypes, type QueryInterface, type Sequelize } from 'sequelize';

export async function up(qi: QueryInterface, sequelize: Sequelize): Promise<void> {
  // A photo or scan of a card sent with its number (じぶんで登録, 代理登録), marked as such: a payee's
  // names no employee, so "an identity file to the firm naming an employee" no longer tells.
  await qi.addColumn('files', 'card_photo', { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false });
  // Files sent before: the rule that told them until now, and whatever was sent with a photo a number points to.
  await sequelize.query(`UPDATE files SET card_photo = ? WHERE category = 'identity' AND direction = 'to_firm' AND employee_id IS NOT NULL`, { replacements: [true] });
  // (The inner query is wrapped so MySQL reads it before it updates the same table.)
  await sequelize.query(`UPDATE files SET card_photo = ? WHERE batch_id IN (SELECT batch_id FROM (SELECT f.batch_id FROM files f JOIN number_records n ON n.id_file_id = f.id) pointed)`, { replacements: [true] });
}

export async function down(qi: QueryInterface): Promise<void> {
  await qi.removeColumn('files', 'card_photo');
}
