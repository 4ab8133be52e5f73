import { DataTypes, type QueryInterface, type Sequelize } from 'sequelize';

export async function up(qi: QueryInterface, sequelize: Sequelize): Promise<void> {
  // A 削除予定日 moved or cancelled (予定解除) by hand on the retention screen: a later correction of the
  // leave date must leave it as it was set, whatever the rules were when the date was first given.
  await qi.addColumn('number_records', 'deletion_date_by_hand', { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false });
  // Dates changed before: every such change is in the log, under the person it was about.
  await sequelize.query(`UPDATE number_records SET deletion_date_by_hand = ? WHERE EXISTS (
    SELECT 1 FROM audit_events a WHERE a.operation IN ('retention.change', 'retention.cancel')
      AND a.client_id = number_records.client_id AND a.target_kind = number_records.person_kind AND a.target_id = number_records.person_id)`, { replacements: [true] });
}

export async function down(qi: QueryInterface): Promise<void> {
  await qi.removeColumn('number_records', 'deletion_date_by_hand');
}
