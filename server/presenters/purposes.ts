import { OFFICES, OFFICES_FOR, PROCEDURES } from '../domain/purposes';

/**
 * The procedure and office lists of a purpose form. Each office says which procedures are filed
 * there, so the page narrows the office list to those that fit the chosen procedure (the server
 * refuses the others all the same).
 */
export function purposeChoices() {
  return {
    procedures: PROCEDURES.map((p) => ({ value: p, labelKey: `purpose.${p}` })),
    offices: OFFICES.map((o) => ({ value: o, labelKey: `office.${o}`, fitsProcedures: PROCEDURES.filter((p) => OFFICES_FOR[p].includes(o)).join(' ') })),
  };
}
