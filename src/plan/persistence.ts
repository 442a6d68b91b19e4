import type { Model } from '../model/types.js';

// Persistence marks (README.md, Persistence). A persistence entry maps a client (and the service's key) to a backend's
// tag, not to its id: ids are numbered in config order and move when the config is reordered, while a tag is derived
// from what names the backend (service name and endpoint) and so survives reloads. The ct mark carries both parts
// while a new connection is scheduled: the service key in the upper 20 bits, the backend's tag below it.

/** Bits of a persistence mark that hold the backend's tag within its service. */
export const TAG_BITS = 12;
/** The most backends a service with persistence may have (tag 0 is the service key itself). */
export const MAX_PERSISTENT_BACKENDS = (1 << TAG_BITS) - 1;
/** The service-key part of a persistence mark: `ct mark & SERVICE_MASK`. */
export const SERVICE_MASK = 0xfffff000;
// Service keys start at 256, so every persistence mark is at least 0x100000 and never reads as a backend id.
const FIRST_KEY = 256;
const KEYS = 2 ** (32 - TAG_BITS) - FIRST_KEY;

// FNV-1a over the UTF-16 code units (names and endpoints are ASCII): fast, and the same on every node and release.
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

// Hands each name a slot of `size` from its hash; a taken slot passes to the next one. Names are placed in the order
// of (hash, name), so a name keeps its slot as long as no name placed before it collides with it.
function place(names: readonly string[], size: number): Map<string, number> {
  const order = names.map((name) => ({ name, h: fnv1a(name) % size }));
  order.sort((a, b) => a.h - b.h || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const taken = new Set<number>();
  const out = new Map<string, number>();
  for (const { name, h } of order) {
    let slot = h;
    while (taken.has(slot)) slot = (slot + 1) % size;
    taken.add(slot);
    out.set(name, slot);
  }
  return out;
}

// The persistence mark of each service with persistence: its key shifted above the tag bits. Derived from the service
// names alone (never from config order), so a service keeps its mark, and its clients their entries, across reloads.
export function persistenceMarks(model: Model): Map<string, number> {
  const names: string[] = [];
  for (let i = 0; i < model.services.length; i++) {
    const s = model.services[i]!;
    if (s.persistence !== undefined) names.push(s.name);
  }
  const out = new Map<string, number>();
  if (names.length === 0) return out;
  for (const [name, slot] of place(names, KEYS)) out.set(name, ((FIRST_KEY + slot) << TAG_BITS) >>> 0);
  return out;
}

// The tag of each backend of a service with persistence (same order as `endpoints`): the service mark plus a value
// 1..4095 derived from the endpoint, so a backend keeps its tag when others are added, removed or reordered.
export function backendTags(mark: number, endpoints: readonly string[]): number[] {
  const slots = place(endpoints, MAX_PERSISTENT_BACKENDS);
  return endpoints.map((e) => (mark | (1 + slots.get(e)!)) >>> 0);
}
