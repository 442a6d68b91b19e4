// npm and npx put node_modules/.bin first on PATH, and there `nft` is @vercel/nft (a file tracer that exits 0 and loads
// nothing). nftlb only ever means the system's tools, so those PATH entries are dropped.
export function withoutNodeModulesPath(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const path = (env.PATH ?? '').split(':').filter((d) => d !== '' && !/(^|\/)node_modules(\/|$)/.test(d));
  return { ...env, PATH: path.join(':') };
}
