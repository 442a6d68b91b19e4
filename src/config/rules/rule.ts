import type { Diagnostic } from '../../common/diagnostic.js';
import type { Model } from '../../model/types.js';
import type { RawConfig } from '../schema.js';

// A semantic rule: sees the config as written and as normalized, returns every problem it finds.
export type Rule = (ctx: { readonly raw: RawConfig; readonly model: Model }) => Diagnostic[];

// Shorthand for an error diagnostic.
export function error(path: string, code: string, message: string): Diagnostic {
  return { path, code, message, severity: 'error' };
}

// Shorthand for a warning diagnostic.
export function warning(path: string, code: string, message: string): Diagnostic {
  return { path, code, message, severity: 'warning' };
}
