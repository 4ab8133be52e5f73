import { DataTypes, type QueryInterface, type Sequelize } from 'sequelize';

export async function up(qi: QueryInterface, sequelize: Sequelize): Promise<void> {
  // Card photos a person sent through a one-time link are filed under the client admin who issued the
  // link (files are always an account's), yet that admin did not send them: marked, they are listed
  // with what the company's people sent, not in the admin's 送ったファイル.
  await qi.addColumn('files', 'through_link', { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false });
  // Those sent before: the photos a number registered through a link points to, and the rest of their batch.
  // (The inner query is wrapped so MySQL reads it before it updates the same table.)
  await sequelize.query(`UPDATE files SET through_link = ? WHERE batch_id IN (SELECT batch_id FROM (SELECT f.batch_id FROM files f JOIN number_records n ON n.id_file_id = f.id WHERE n.source = 'link') pointed)`, { replacements: [true] });
}

export async function down(qi: QueryInterface): Promise<void> {
  await qi.removeColumn('files', 'through_link');
}
