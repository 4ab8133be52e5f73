import { DataTypes, QueryTypes, type QueryInterface, type Sequelize } from 'sequelize';

const time = (v: unknown): number => new Date(v as string | Date).getTime();

export async function up(qi: QueryInterface, sequelize: Sequelize): Promise<void> {
  // A 削除予定日 moved or cancelled (予定解除) by hand on the retention screen: a later correction of the
  // leave date must leave it as it was set, whatever the rules were when the date was first given.
  await qi.addColumn('number_records', 'deletion_date_by_hand', { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false });
  // Dates changed before: every such change is in the log, under the person it was about. One pass
  // over the log (no index serves a per-record look-up there), then the records by key.
  const changes = await sequelize.query<{ client_id: string; target_kind: string; target_id: string; last: unknown }>(
    `SELECT client_id, target_kind, target_id, MAX(at) AS last FROM audit_events
      WHERE operation IN ('retention.change', 'retention.cancel') AND client_id IS NOT NULL AND target_id IS NOT NULL
      GROUP BY client_id, target_kind, target_id`, { type: QueryTypes.SELECT });
  if (!changes.length) return;
  const records = await sequelize.query<{ id: string; client_id: string; person_kind: string; person_id: string }>(
    'SELECT id, client_id, person_kind, person_id FROM number_records', { type: QueryTypes.SELECT });
  const recordOf = new Map(records.map((r) => [`${r.client_id}|${r.person_kind}|${r.person_id}`, r.id]));
  // A record emptied by a disposal after its date was changed, and filled again since (a rehire), starts from the rules.
  const erased = await sequelize.query<{ item_id: string; last: unknown }>(
    `SELECT item_id, MAX(erased_at) AS last FROM disposal_items WHERE item_kind = 'number' AND erased_at IS NOT NULL GROUP BY item_id`, { type: QueryTypes.SELECT });
  const erasedAt = new Map(erased.map((e) => [e.item_id, time(e.last)]));
  const byHand = changes.flatMap((c) => {
    const id = recordOf.get(`${c.client_id}|${c.target_kind}|${c.target_id}`);
    return id && !(time(c.last) <= (erasedAt.get(id) ?? -Infinity)) ? [id] : [];
  });
  for (let i = 0; i < byHand.length; i += 500) {
    await qi.bulkUpdate('number_records', { deletion_date_by_hand: true }, { id: byHand.slice(i, i + 500) });
  }
}

export async function down(qi: QueryInterface): Promise<void> {
  await qi.removeColumn('number_records', 'deletion_date_by_hand');
}
