// npm and npx put node_modules/.bin first on PATH, and there `nft` is @vercel/nft (a file tracer that exits 0 and loads
// nothing). nftlb only ever means the system's tools, so those PATH entries are dropped.
export function withoutNodeModulesPath(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, PATH: systemPathDirs(env.PATH).join(':') };
}

/** The directories of a PATH nftlb looks for programs in, in order: empty entries and node_modules ones dropped. */
export function systemPathDirs(path: string | undefined): string[] {
  return (path ?? '').split(':').filter((d) => d !== '' && !/(^|\/)node_modules(\/|$)/.test(d));
}
