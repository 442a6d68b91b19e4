import { Ajv, type ValidateFunction } from 'ajv';
import { configSchema, type RawConfig } from './schema.js';

/** ajv options of the config validator. verbose: errors carry their schema, whose description becomes the expectation
 *  in the message. The bundle (scripts/bundle.mjs) compiles the same schema with the same options ahead of time and
 *  puts ajv's standalone code in place of this module, which saves most of the start-up time of every command (docs/architecture.md). */
export const AJV_OPTIONS = { allErrors: true, strict: true, allowUnionTypes: true, verbose: true } as const;

/** The config validator: compiled from the JSON Schema when this module loads. */
export const validateConfig: ValidateFunction<RawConfig> = new Ajv(AJV_OPTIONS).compile<RawConfig>(configSchema);
