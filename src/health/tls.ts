import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { keyPath } from '../common/diagnostic.js';
import { NftlbError } from '../common/errors.js';
import type { Model } from '../model/types.js';
import type { CaContexts } from './probe.js';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

// The CA contexts of every https check of the model, one per CA file, read through `read` (src/system) before the first
// round (and again on SIGHUP), so a CA file that is missing or holds no certificate stops nftlb health with the file
// and the check named, instead of taking every backend of the service down one check at a time.
export async function caContexts(model: Model, read: (file: string) => Promise<string>): Promise<CaContexts> {
  const where = new Map<string, string>();
  for (const s of model.services)
    for (const b of s.backends)
      if (b.health?.kind === 'https' && b.health.ca !== undefined && !where.has(b.health.ca))
        where.set(b.health.ca, keyPath(b.path));
  const out = new Map<string, ReturnType<typeof createSecureContext>>();
  for (const [file, path] of where) {
    const text = await read(file);
    const pems = text.match(PEM_CERT) ?? [];
    const bad = pems.findIndex((pem) => !parses(pem));
    if (pems.length === 0 || bad >= 0)
      throw new NftlbError(
        'config-read',
        `CA file ${file} (the https check of ${path}) ${
          pems.length === 0 ? 'holds no PEM certificate' : `holds a certificate that does not parse (the ${bad + 1}.)`
        }`,
        { detail: 'expected one or more "-----BEGIN CERTIFICATE-----" blocks' },
      );
    out.set(file, createSecureContext({ ca: pems }));
  }
  return out;
}

function parses(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}
