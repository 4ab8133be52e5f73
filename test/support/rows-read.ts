import type { Model, ModelStatic } from 'sequelize';

/** Runs `fn` and counts the rows the given models read meanwhile (an afterFind hook, removed after). */
export async function rowsReadDuring<T>(models: ModelStatic<Model>[], fn: () => Promise<T>): Promise<{ result: T; rows: number }> {
  let rows = 0;
  const count = (found: unknown) => { rows += Array.isArray(found) ? found.length : found ? 1 : 0; };
  // One hook for models whose instance types differ; the hook API does not.
  const hooked = models as unknown as ModelStatic<Model & { id: unknown }>[];
  for (const m of hooked) m.addHook('afterFind', 'rows-read', count);
  try {
    const result = await fn();
    return { result, rows };
  } finally {
    for (const m of hooked) m.removeHook('afterFind', 'rows-read');
  }
}
