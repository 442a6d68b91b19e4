import { addressFamilies } from './address-families.js';
import { backendList } from './backend-list.js';
import { backendPorts } from './backend-ports.js';
import { cluster } from './cluster.js';
import { dsr } from './dsr.js';
import { forwardOptions } from './forward-options.js';
import { hashOptions } from './hash-options.js';
import { healthOptions } from './health-options.js';
import { listenerCount } from './listener-count.js';
import { listenerOverlap } from './listener-overlap.js';
import { logOptions } from './log-options.js';
import { persistenceOptions } from './persistence.js';
import type { Rule } from './rule.js';
import { tableName } from './table-name.js';
import { unicastAddresses } from './unicast.js';
import { uniqueNames } from './unique-names.js';
import { weights } from './weights.js';

// Every semantic rule, run in this order after the schema check.
export const rules: readonly Rule[] = [
  tableName,
  uniqueNames,
  listenerOverlap,
  listenerCount,
  backendList,
  addressFamilies,
  unicastAddresses,
  backendPorts,
  hashOptions,
  healthOptions,
  persistenceOptions,
  weights,
  dsr,
  forwardOptions,
  logOptions,
  cluster,
];
