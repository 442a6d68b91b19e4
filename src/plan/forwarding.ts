import type { Plan } from './types.js';

// The services of a plan by how their packets reach the backends: NAT ones go into the inet table, DSR ones into the
// netdev table. Both keep the plan's ids and slot ranges (each table holds only its services' elements).

// The plan's NAT services; the plan itself when it has no DSR service (so a NAT-only config renders as before).
export function natPlan(p: Plan): Plan {
  return hasDsr(p) ? { table: p.table, services: p.services.filter((s) => s.dsr === undefined) } : p;
}

// The plan's DSR services (none for a NAT-only config).
export function dsrPlan(p: Plan): Plan {
  return { table: p.table, services: hasDsr(p) ? p.services.filter((s) => s.dsr !== undefined) : [] };
}

// True when some service of the plan uses forwarding: dsr.
export function hasDsr(p: Plan): boolean {
  for (let i = 0; i < p.services.length; i++) if (p.services[i]!.dsr !== undefined) return true;
  return false;
}
