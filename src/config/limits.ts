// The bounds that keep reading any config, however hostile, within a known time and memory (README: Limits of the
// config). Each is far above what a real config needs.

/** Largest config file nftlb reads: 32 MiB. A 50,000-service config is 11 MB as compact JSON, 13.5 MB as YAML and
 *  22 MB as pretty-printed JSON. Larger files are refused before they are read (exit 4). */
export const MAX_CONFIG_BYTES = 32 * 1024 * 1024;

/** Deepest nesting: a value may sit inside at most 64 arrays and objects (an nftlb config needs 5). Deeper documents are
 *  refused before any recursive walk (the parsers' and the validator's) can run out of stack. */
export const MAX_NESTING = 64;

/** Checking stops after this many problems: the schema check collects no more, and the semantic rules are not run. */
export const MAX_PROBLEMS = 10_000;

/** YAML text up to this size that does not parse is read again by the `yaml` parser, which reports every syntax error
 *  (~1 s and ~75 MB per MiB of text); larger text gets js-yaml's first error. */
export const FULL_YAML_ERRORS_BYTES = 1024 * 1024;

/** Aliases (`*name`) may repeat collections; the document they expand to may hold at most this many more values than
 *  the text writes out ("billion laughs" stays a diagnostic). */
export const MAX_ALIAS_EXPANSION = 1_000_000;

/** Longest item list of a service or health check (vip, port, protocol, snat, hash fields, status). */
export const MAX_LIST_ITEMS = 1024;
