import type { Topology } from './topology.js';

// What an inet table holds, without handles, counters or the table comment, elements in a fixed order: equal for two
// tables whatever order their elements were added in. `skip` leaves out chains by name (and their rules).
export async function tableContent(
  topo: Topology,
  name: string,
  skip: (chain: string) => boolean = () => false,
): Promise<unknown[]> {
  const r = await topo.exec(topo.lb, ['nft', '-j', '-s', 'list', 'table', 'inet', name]);
  const items = (JSON.parse(r.stdout) as { nftables: Record<string, Record<string, unknown>>[] }).nftables;
  const strip = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(strip)
      : typeof v === 'object' && v !== null
        ? Object.fromEntries(
            Object.entries(v)
              .filter(([k]) => k !== 'handle' && k !== 'comment')
              .map(([k, x]) => [k, strip(x)]),
          )
        : v;
  return items
    .filter((o) => o['metainfo'] === undefined)
    .filter((o) => !skip(String(o['chain']?.['name'] ?? o['rule']?.['chain'] ?? '')))
    .map((o) => {
      const s = strip(o) as Record<string, Record<string, unknown>>;
      for (const kind of ['set', 'map']) {
        const elem = s[kind]?.['elem'];
        if (Array.isArray(elem)) s[kind]!['elem'] = elem.map((e) => JSON.stringify(e)).sort();
      }
      return s;
    })
    .sort((a, b) => {
      // Sets and chains by name; rules stay in chain order (a stable sort keeps them so within their chain).
      const key = (o: Record<string, Record<string, unknown>>): string => {
        const [kind, body] = Object.entries(o)[0]!;
        return kind === 'rule'
          ? `chain ${String(body['chain'])} ~`
          : `${kind === 'map' ? 'set' : kind} ${String(body['name'])}`;
      };
      return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
    });
}
