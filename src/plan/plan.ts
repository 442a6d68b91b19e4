import { endpointText } from '../model/address.js';
import type { Family, Model, Service } from '../model/types.js';
import { ident } from '../nft/names.js';
import { selectFor } from './selector.js';
import { SLOT_BASE, type Plan, type PlannedBackend, type PlannedService, type Pool } from './types.js';

// Decides ids, slots and selectors for a validated model. Pure and deterministic: config order gives the ids.
export function plan(model: Model): Plan {
  let nextId = 1;
  let nextSlot = SLOT_BASE;
  const services = model.services.map((s): PlannedService => {
    const backends: PlannedBackend[] = s.backends.map((b) => ({
      id: nextId++,
      path: b.path,
      address: b.address,
      port: b.port ?? singlePort(s),
      weight: b.weight,
      state: b.state,
      endpoint: endpointText(b.address, b.port ?? singlePort(s)),
    }));
    const families = ([4, 6] as const).filter((f) => s.vips.some((v) => v.family === f));
    const pools = families.map((family): Pool => {
      const up = backends.filter((b) => b.address.family === family && b.state === 'up');
      const chain = ident(`svc_${s.name}_v${family}`);
      const vips = s.vips.filter((v) => v.family === family);
      if (up.length === 0) return { family, chain, vips, selector: null, slotBase: 0, slots: [] };
      const { selector, slots } = selectFor(s.scheduler, up);
      const pool: Pool = { family, chain, vips, selector, slotBase: nextSlot, slots: slots.map((i) => up[i]!.id) };
      nextSlot += slots.length;
      return pool;
    });
    return {
      name: s.name,
      path: s.path,
      protocols: s.protocols,
      ports: s.ports,
      nat: s.nat,
      onEmpty: s.onEmpty,
      scheduler: s.scheduler.kind,
      backends,
      pools,
    };
  });
  return { table: ident(model.table), services };
}

// The service port when there is exactly one: backends without a port then get it, so the map holds address . port.
function singlePort(s: Service): number | undefined {
  const only = s.ports.length === 1 ? s.ports[0] : undefined;
  return only !== undefined && only.first === only.last ? only.first : undefined;
}

// Families a plan uses, for renderers that emit per-family objects.
export function familiesOf(p: Plan): Family[] {
  return ([4, 6] as const).filter((f) => p.services.some((s) => s.pools.some((pool) => pool.family === f)));
}
