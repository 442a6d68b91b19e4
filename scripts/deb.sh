#!/usr/bin/env bash
# Builds OUTDIR/nftlb_<version>_all.deb (OUTDIR: the argument, default dist/) from `make install DESTDIR=...` of a
# built tree (make build): the bundled CLI (nftlb.mjs and its chunks) needs only Debian's nodejs. Compresses the man pages and the
# changelog, adds the maintainer scripts, then runs lintian when it is installed (with CI=true it must be): an error
# fails the build. Prints the path of the package on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
version=$(node -p "require('./package.json').version")
maintainer='nftlb maintainers <maintainers@users.noreply.invalid>'
deb="$out/nftlb_${version}_all.deb"
stage=$(mktemp -d /tmp/nftlb-deb.XXXXXX)
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out"

# dist/ is already built; -o keeps make from building it again.
make --no-print-directory -o build -o setup install DESTDIR="$stage" >/dev/null
gzip -9n "$stage"/usr/share/man/man*/*

# A native package's changelog. Its date is the last commit's (or SOURCE_DATE_EPOCH), so a rebuild of the same tree
# gives the same package.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cat > "$stage/usr/share/doc/nftlb/changelog" <<CHANGELOG
nftlb (${version}) unstable; urgency=medium

  * Built from the nftlb sources at commit ${commit}; README.md lists what
    changed.

 -- ${maintainer}  $(LC_ALL=C date -u -R -d "@${epoch}")
CHANGELOG
gzip -9n "$stage/usr/share/doc/nftlb/changelog"

mkdir -p "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: nftlb
Version: ${version}
Architecture: all
Maintainer: ${maintainer}
Installed-Size: $(du -sk --apparent-size "$stage" | cut -f1)
Depends: nodejs (>= 18.19), nftables, procps, util-linux (>= 2.25)
Recommends: conntrack
Suggests: iptables
Section: net
Priority: optional
Description: layer-4 load balancer compiled to one atomic nftables script
 nftlb compiles a load-balancer config (YAML or JSON) into one nftables script
 and loads it as one transaction: round robin, weighted random, source and
 symmetric hashing, Maglev; masquerade, SNAT or no NAT; IPv4 and IPv6.
 Health checks take failed backends out of the live table; an iptables-restore
 output and an importer serve hosts that still use iptables.
 .
 The systemd units are installed disabled: nothing runs until they are
 enabled (see nftlb(8)).
CONTROL
# nodejs: the bundle (>= 18.19: execa's floor); nftables: nft; procps: /bin/kill in nftlb-health.service;
# util-linux (>= 2.25): flock -E for the apply lock; conntrack: health's on-down reset and spill counts.
printf '%s\n' /etc/default/nftlb /etc/nftlb/nftlb.yaml > "$stage/DEBIAN/conffiles"

cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
# Nothing is enabled or started: the admin enables the units (nftlb(8), EXAMPLES). systemd learns of new unit files.
# On an upgrade ($2: the version replaced), a running nftlb-health.service is restarted so that it runs the new code;
# one that is stopped stays stopped (try-restart, as debhelper does for units it does not start). The other units run
# nftlb afresh each time: nftlb.service is not restarted, which would remove the table and load it again.
set -e
if [ "$1" = configure ] || [ "$1" = abort-upgrade ] || [ "$1" = abort-deconfigure ] || [ "$1" = abort-remove ]; then
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		if [ -n "$2" ]; then
			deb-systemd-invoke try-restart nftlb-health.service >/dev/null || true
		fi
	fi
fi
exit 0
POSTINST

cat > "$stage/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
# On removal, stop whatever runs: nftlb.service's stop removes nftlb's table, which nothing could manage afterwards.
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	deb-systemd-invoke stop nftlb-health.service nftlb-reload.timer nftlb-reload.service nftlb.service >/dev/null || true
fi
exit 0
PRERM

cat > "$stage/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
# Purge removes what nftlb wrote (health state, the apply lock and its record) and the links of enabled units.
set -e
if [ "$1" = purge ]; then
	rm -rf /var/lib/nftlb /run/nftlb
	rm -f /etc/systemd/system/multi-user.target.wants/nftlb.service \
		/etc/systemd/system/multi-user.target.wants/nftlb-health.service \
		/etc/systemd/system/timers.target.wants/nftlb-reload.timer
fi
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
exit 0
POSTRM
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"

(cd "$stage" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
SOURCE_DATE_EPOCH=$epoch dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null

if command -v lintian >/dev/null 2>&1; then
  # --fail-on error: warnings are listed (README.md, Install, says which remain and why), errors fail the build.
  # (As root, lintian first says that it should not run as root: that line is dropped.)
  if ! tags=$(lintian --fail-on error --tag-display-limit 0 "$deb" 2>&1 | grep -v '^running with root privileges'; exit "${PIPESTATUS[0]}"); then
    printf '%s\n' "$tags" >&2
    echo "deb: lintian found errors in $deb" >&2
    exit 1
  fi
  [ -z "$tags" ] || printf '%s\n' "$tags" >&2
  echo "deb: lintian: no errors ($(printf '%s' "$tags" | grep -c '^W:' || true) warnings)" >&2
elif [ "${CI:-}" = true ]; then
  echo "deb: lintian is not installed (scripts/setup.sh test installs it)" >&2
  exit 1
else
  echo "deb: lintian is not installed; the package was not checked" >&2
fi
echo "$deb"
