import { dsrPlan, hasDsr, natPlan } from '../plan/forwarding.js';
import type { Plan } from '../plan/types.js';
import type { TableRef, TableView } from './ast.js';
import { tableView } from './build.js';
import { dsrTableView } from './dsr.js';
import { ident, identProblem, MAX_NAME_LENGTH } from './names.js';

// The tables nftlb owns under one configured name: `table inet <name>` (the NAT balancer, always) and, for configs with
// DSR services, `table netdev <name>_dsr`. The suffix keeps the two apart in `nft list tables` and names what the
// second one is for; a table of another family does not clash with the inet one.

// The suffix of the netdev (DSR) table's name.
const DSR_SUFFIX = '_dsr';

/** Longest configured table name: its DSR companion `<name>_dsr` must be a name too (MAX_NAME_LENGTH). */
export const MAX_TABLE_NAME_LENGTH = MAX_NAME_LENGTH - DSR_SUFFIX.length;

// Why a configured name cannot name nftlb's tables, or undefined when it can. Every command that names the tables
// (render of a DSR config; apply, diff, status and remove of any) also names the DSR one, so both must be names.
export function tableNameProblem(table: string): string | undefined {
  if (table.length > MAX_TABLE_NAME_LENGTH)
    return `it is longer than ${MAX_TABLE_NAME_LENGTH} characters: nftlb also names the table of DSR services "<name>${DSR_SUFFIX}", and a name has at most ${MAX_NAME_LENGTH}`;
  return identProblem(table);
}

// nftlb's inet table of a configured name.
export function inetTableRef(table: string): TableRef {
  return { family: 'inet', name: ident(table) };
}

// nftlb's netdev (DSR) table of a configured name.
export function dsrTableRef(table: string): TableRef {
  return { family: 'netdev', name: ident(`${table}${DSR_SUFFIX}`) };
}

// Every table nftlb may own under a configured name, the inet one first: what remove deletes and what apply and health
// look at (a netdev table left from a config that had DSR services is deleted with the next load).
export function ownedTableRefs(table: string): TableRef[] {
  return [inetTableRef(table), dsrTableRef(table)];
}

// The tables a plan's script replaces, in its order (what renderNftScript(p).tables says, without rendering): the inet
// table, then the netdev table when some service uses forwarding: dsr.
export function scriptTableRefs(p: Plan): TableRef[] {
  return hasDsr(p) ? [inetTableRef(p.table), dsrTableRef(p.table)] : [inetTableRef(p.table)];
}

// nftlb's tables for a plan, in the order the script replaces them: the inet table (the NAT balancer) first, then the
// netdev table when some service uses forwarding: dsr. A config without DSR gives exactly the one inet table.
export function tableViews(p: Plan, comment: string): TableView[] {
  const dsr = dsrPlan(p);
  if (dsr.services.length === 0) return [tableView(p, comment)];
  return [tableView(natPlan(p), comment), dsrTableView(dsr, dsrTableRef(p.table).name, comment)];
}
