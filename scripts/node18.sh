#!/usr/bin/env bash
# Prints the path of a Node.js 18 binary for the CI run under Node 18 (.ci/run): the node-linux-<arch> package of the
# npm registry, unpacked once into node_modules/.cache/ (ignored by git, gone with npm ci). 18.19.0 is the oldest
# Node the package accepts (nodejs >= 18.19: execa 9's floor); Debian 12 ships 18.19 and 18.20.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${NODE18_VERSION:-18.19.0}
case $(uname -m) in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "node18: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac
dir="node_modules/.cache/nftlb-node-$version-$arch"
if [ ! -x "$dir/bin/node" ]; then
  tmp=$(mktemp -d /tmp/nftlb-node18.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-$arch@$version" >/dev/null)
  mkdir -p "$dir"
  tar -xzf "$tmp"/node-linux-*.tgz -C "$dir" --strip-components=1 package/bin/node
fi
"$dir/bin/node" --version >/dev/null
echo "$PWD/$dir/bin/node"
