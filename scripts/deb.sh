#!/usr/bin/env bash
# Builds dist/nftlb_<version>_all.deb from `make install DESTDIR=...`: the bundled single-file CLI needs only nodejs.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p "require('./package.json').version")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
make --no-print-directory install DESTDIR="$stage" >/dev/null
mkdir -p "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: nftlb
Version: ${version}
Architecture: all
Maintainer: nftlb maintainers <maintainers@users.noreply.invalid>
Depends: nodejs (>= 18.18), nftables
Recommends: conntrack
Suggests: iptables
Section: net
Priority: optional
Description: layer-4 load balancer compiled to one atomic nftables script
 nftlb compiles a load-balancer config (YAML or JSON) into one nftables script
 and loads it as one transaction: round robin, weighted random, source and
 symmetric hashing, Maglev; masquerade, SNAT or no NAT; IPv4 and IPv6.
CONTROL
echo "/etc/nftlb/nftlb.yaml" > "$stage/DEBIAN/conffiles"
[ -e "$stage/etc/nftlb/nftlb.yaml" ] || : > "$stage/DEBIAN/conffiles"
dpkg-deb --root-owner-group --build "$stage" "dist/nftlb_${version}_all.deb" >/dev/null
echo "dist/nftlb_${version}_all.deb"
